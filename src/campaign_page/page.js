// Draws the campaign page's charts into SVG from the JSON embedded in the
// page (#campaign-data). Each panel gets data-rendered: the number of data
// marks drawn (points, bars, cells), 0 for "no data", or "error"; the body
// gets data-charts="done" when every panel was handled.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("campaign-data").textContent);

  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", { x: x, y: y, "text-anchor": anchor || "start" }, parent);
    t.textContent = s;
    return t;
  }
  function tip(node, s) {
    var t = el("title", {}, node);
    t.textContent = s;
  }
  function plot(id) {
    return document.querySelector("#" + id + " .plot");
  }
  function noData(id, why) {
    var p = document.createElement("p");
    p.className = "no-data";
    p.textContent = "no data: " + why;
    plot(id).appendChild(p);
    return 0;
  }
  function fmt(v) {
    if (v >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
    if (v >= 1e4) { return (v / 1e3).toFixed(0) + "k"; }
    if (v >= 1e3) { return (v / 1e3).toFixed(1) + "k"; }
    return String(Math.round(v * 10) / 10);
  }
  function legend(id, items) {
    var d = document.createElement("div");
    d.className = "legend";
    items.forEach(function (it) {
      var s = document.createElement("span");
      var i = document.createElement("i");
      i.style.background = it[0];
      s.appendChild(i);
      s.appendChild(document.createTextNode(it[1]));
      d.appendChild(s);
    });
    plot(id).appendChild(d);
  }

  // Programs/s between consecutive timeline points, plotted at the later one.
  function throughput() {
    var t = data.timeline;
    if (!t || t.length === 0) {
      return noData("throughput", "this summary has no timeline");
    }
    var pts = [];
    var prevT = 0, prevP = 0;
    t.forEach(function (p) {
      var dt = p.elapsed_s - prevT;
      if (dt > 0) {
        pts.push({ t: p.elapsed_s, r: (p.programs - prevP) / dt, p: p });
      }
      prevT = p.elapsed_s;
      prevP = p.programs;
    });
    if (pts.length === 0) {
      return noData("throughput", "the timeline has no interval of positive length");
    }
    var W = 720, H = 260, L = 56, R = 16, T = 12, B = 36;
    var maxT = pts[pts.length - 1].t;
    var maxR = Math.max.apply(null, pts.map(function (q) { return q.r; })) * 1.1 || 1;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" }, plot("throughput"));
    var x = function (v) { return L + (W - L - R) * v / maxT; };
    var y = function (v) { return H - B - (H - T - B) * v / maxR; };
    for (var i = 0; i <= 4; i++) {
      var gv = maxR * i / 4;
      el("line", { class: "grid", x1: L, x2: W - R, y1: y(gv), y2: y(gv) }, svg);
      text(svg, L - 6, y(gv) + 4, fmt(gv), "end");
      var tv = maxT * i / 4;
      text(svg, x(tv), H - B + 16, fmt(tv) + " s", "middle");
    }
    el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }, svg);
    text(svg, (L + W - R) / 2, H - 4, "elapsed", "middle");
    el("polyline", {
      class: "line",
      points: pts.map(function (q) { return x(q.t).toFixed(1) + "," + y(q.r).toFixed(1); }).join(" ")
    }, svg);
    pts.forEach(function (q) {
      var c = el("circle", { class: "point", cx: x(q.t).toFixed(1), cy: y(q.r).toFixed(1), r: pts.length > 100 ? 1.5 : 3 }, svg);
      tip(c, q.t.toFixed(1) + " s: " + Math.round(q.r) + " programs/s, " + q.p.programs +
        " programs, " + q.p.diverge_new + " new and " + q.p.diverge_known + " known divergences so far");
    });
    return pts.length;
  }

  // One bar per signature, new ones (red) first, then by count.
  function signatures() {
    var s = data.signatures;
    if (!s) {
      return noData("signatures", "this summary does not list signatures");
    }
    if (s.length === 0) {
      var p = document.createElement("p");
      p.textContent = "No divergences: every compared case agreed.";
      plot("signatures").appendChild(p);
      return 0;
    }
    var MAX = 40, shown = s.slice(0, MAX);
    var W = 720, ROW = 22, LBL = 360, T = 4;
    var H = T + ROW * shown.length + (s.length > MAX ? ROW : 0) + 4;
    var maxC = Math.max.apply(null, shown.map(function (g) { return g.count; })) || 1;
    legend("signatures", [["#c0392b", "new"], ["#95a5a6", "known (a rule explains it)"]]);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" }, plot("signatures"));
    shown.forEach(function (g, i) {
      var yy = T + i * ROW;
      var label = g.signature.length > 56 ? g.signature.slice(0, 55) + "\u2026" : g.signature;
      text(svg, LBL - 8, yy + 15, label, "end");
      var w = Math.max(2, (W - LBL - 60) * g.count / maxC);
      var b = el("rect", { class: "bar " + (g.known ? "known" : "new"), x: LBL, y: yy + 3, width: w.toFixed(1), height: ROW - 6 }, svg);
      tip(b, g.signature + ": " + g.count + (g.known ? " (known: " + (g.rule || "rule") + ")" : " (new)"));
      text(svg, LBL + w + 6, yy + 15, String(g.count));
    });
    if (s.length > MAX) {
      text(svg, LBL, T + MAX * ROW + 15, "\u2026 and " + (s.length - MAX) + " more signatures");
    }
    return shown.length;
  }

  // The share of rows hit, then one cell per row shaded by its count.
  function coverage() {
    var c = data.coverage;
    if (!c) {
      return noData("coverage", "this summary has no coverage");
    }
    var W = 720, CELL = 18, PER = Math.floor(W / CELL);
    var listed = c.rows.length;
    var unlisted = Math.max(0, c.rows_total - listed);
    var cells = listed + unlisted;
    var gridH = Math.ceil(cells / PER) * CELL;
    var H = 40 + gridH + 4;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" }, plot("coverage"));
    var frac = c.rows_total > 0 ? c.rows_hit / c.rows_total : 0;
    el("rect", { class: "cover-all", x: 0, y: 4, width: W, height: 14 }, svg);
    el("rect", { class: "cover-hit", x: 0, y: 4, width: (W * frac).toFixed(1), height: 14 }, svg);
    text(svg, 0, 32, c.rows_hit + " of " + c.rows_total + " opcode rows hit (" + (100 * frac).toFixed(1) + "%)");
    var maxC = Math.max.apply(null, c.rows.map(function (r) { return r.count; }).concat([1]));
    var drawn = 0;
    c.rows.forEach(function (r, i) {
      var gx = (i % PER) * CELL, gy = 40 + Math.floor(i / PER) * CELL;
      var cell;
      if (r.count > 0) {
        var k = Math.log(1 + r.count) / Math.log(1 + maxC);
        var light = Math.round(85 - 55 * k);
        cell = el("rect", { class: "cell hit", x: gx, y: gy, width: CELL, height: CELL, fill: "hsl(210,60%," + light + "%)" }, svg);
      } else {
        cell = el("rect", { class: "cell unhit", x: gx, y: gy, width: CELL, height: CELL }, svg);
      }
      tip(cell, r.row + ": " + r.count);
      drawn++;
    });
    for (var j = 0; j < unlisted; j++) {
      var i2 = listed + j;
      var u = el("rect", { class: "cell unhit unlisted", x: (i2 % PER) * CELL, y: 40 + Math.floor(i2 / PER) * CELL, width: CELL, height: CELL }, svg);
      tip(u, "a row not listed in the summary");
    }
    legend("coverage", [["hsl(210,60%,30%)", "rows hit (darker: more programs)"], ["#eee", "rows not hit"]]);
    return drawn;
  }

  [["throughput", throughput], ["signatures", signatures], ["coverage", coverage]].forEach(function (c) {
    var panel = document.getElementById(c[0]);
    try {
      panel.setAttribute("data-rendered", String(c[1]()));
    } catch (e) {
      var p = document.createElement("p");
      p.className = "chart-error";
      p.textContent = "chart failed: " + e;
      plot(c[0]).appendChild(p);
      panel.setAttribute("data-rendered", "error");
    }
  });
  document.body.setAttribute("data-charts", "done");
})();
