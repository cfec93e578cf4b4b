// flame.js — the flame graph viewer `taskscope flame` writes into its page
// (tools/taskscope/flame.c). Reads the tree from the #flame-data block:
// {title, type, unit, names: [...], root: [nameIndex, value, [children]]}
// (nameIndex -1 is the root, "all"). Draws it top-down as absolutely
// placed divs, one per frame at least 1px wide; a click zooms to a frame
// (its ancestors stay, full width, dimmed), Escape or "Reset" zooms out,
// the search box marks frames whose name contains the text (or matches it
// as a regular expression between slashes) and totals them without
// counting a frame inside another match twice.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("flame-data").textContent);
  var names = data.names, ROW = 18;
  var box = document.getElementById("flame"), status = document.getElementById("status");
  var search = document.getElementById("search");
  document.getElementById("title").textContent = data.title + " — " + data.type;

  // Frames as objects with parent links; children sorted by name.
  function build(a, parent, depth) {
    var f = { name: a[0] < 0 ? "all" : names[a[0]], value: a[1], parent: parent,
              depth: depth, kids: [] };
    for (var i = 0; i < a[2].length; i++) f.kids.push(build(a[2][i], f, depth + 1));
    f.kids.sort(function (x, y) { return x.name < y.name ? -1 : x.name > y.name ? 1 : 0; });
    return f;
  }
  var root = build(data.root, null, 0), zoom = root, pattern = null;

  function fmt(v) {
    var u = data.unit;
    if (u === "nanoseconds") {
      if (v >= 1e9) return (v / 1e9).toFixed(2) + "s";
      if (v >= 1e6) return (v / 1e6).toFixed(2) + "ms";
      if (v >= 1e3) return (v / 1e3).toFixed(2) + "us";
      return v + "ns";
    }
    if (u === "bytes") {
      var k = ["B", "kB", "MB", "GB", "TB"], i = 0;
      while (v >= 1024 && i < k.length - 1) { v /= 1024; i++; }
      return (i ? v.toFixed(2) : v) + k[i];
    }
    return String(v) + (u && u !== "count" ? " " + u : "");
  }
  function pct(v) { return root.value ? (100 * v / root.value).toFixed(2) + "%" : "0%"; }
  function colour(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return "hsl(" + (10 + h % 40) + ",80%," + (55 + h % 15) + "%)";
  }
  function matches(f) { return pattern !== null && pattern.test(f.name); }
  function isAncestor(f, of) { for (; of; of = of.parent) if (of === f) return true; return false; }

  function frameDiv(f, x, w, top) {
    var d = document.createElement("div");
    d.className = "f" + (matches(f) ? " match" : "") + (isAncestor(f, zoom) && f !== zoom ? " dim" : "");
    d.style.left = x + "px";
    d.style.width = w + "px";
    d.style.top = top + "px";
    d.style.background = colour(f.name);
    d.textContent = w > 24 ? f.name : "";
    d.title = f.name + "\n" + fmt(f.value) + " (" + pct(f.value) + ")";
    d.dataset.name = f.name;
    d.onclick = function () { zoom = f; draw(); };
    d.onmouseenter = function () { status.textContent = f.name + "  " + fmt(f.value) + " (" + pct(f.value) + ")"; };
    return d;
  }

  function draw() {
    var width = box.clientWidth || 1000, deepest = 0, frag = document.createDocumentFragment();
    box.textContent = "";
    // The zoomed frame's ancestors, full width.
    var chain = [];
    for (var a = zoom; a; a = a.parent) chain.unshift(a);
    for (var i = 0; i < chain.length - 1; i++) frag.appendChild(frameDiv(chain[i], 0, width, i * ROW));
    (function place(f, x, w) {
      if (w < 1) return;
      frag.appendChild(frameDiv(f, x, w, f.depth * ROW));
      if (f.depth > deepest) deepest = f.depth;
      for (var k = 0; k < f.kids.length; k++) {
        var kw = f.value ? w * f.kids[k].value / f.value : 0;
        place(f.kids[k], x, kw);
        x += kw;
      }
    })(zoom, 0, width);
    box.style.height = (deepest + 1) * ROW + "px";
    box.appendChild(frag);
    summary();
  }

  function summary() {
    if (pattern === null) { status.textContent = "total " + fmt(root.value) + "; click a frame to zoom"; return; }
    var total = 0;
    (function walk(f) {
      if (matches(f)) { total += f.value; return; }
      for (var k = 0; k < f.kids.length; k++) walk(f.kids[k]);
    })(root);
    status.textContent = "matched " + fmt(total) + " (" + pct(total) + ")";
  }

  search.oninput = function () {
    var s = search.value;
    pattern = null;
    if (s) {
      try {
        pattern = s.length > 2 && s[0] === "/" && s[s.length - 1] === "/"
          ? new RegExp(s.slice(1, -1))
          : new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      } catch (e) { status.textContent = "bad expression: " + e.message; return; }
    }
    draw();
  };
  document.getElementById("reset").onclick = function () { zoom = root; draw(); };
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { zoom = root; draw(); } });
  window.addEventListener("resize", draw);
  draw();
})();
