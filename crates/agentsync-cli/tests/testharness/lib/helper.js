function helperValue() {
  return 42;
}
