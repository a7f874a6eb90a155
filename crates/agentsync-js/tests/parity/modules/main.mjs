// One file imported under two paths, and a module importing itself: each runs once.
import { x } from "./dir/a.mjs";
import { x as y } from "./dir/../dir/a.mjs";
import * as me from "./main.mjs";
print("main ran", x, y, typeof me);
