// Sortable tables of report.html: a click on a column's header button sorts the rows by that
// column, ascending first, then descending. A cell's `data-v` holds its sort key (the raw
// number behind a formatted one); columns marked `data-type="num"` compare numerically, and
// their missing values ("-", nan) go last in both directions. Ties keep the original order.
(function () {
  "use strict";

  function key(cell, numeric) {
    var raw = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
    if (!numeric) {
      return raw;
    }
    var v = parseFloat(raw);
    return isFinite(v) ? v : null;
  }

  function compare(a, b, numeric) {
    if (a === null || b === null) {
      return a === b ? 0 : a === null ? 1 : -1;
    }
    if (numeric) {
      return a - b;
    }
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function sortBy(table, heads, col) {
    var th = heads[col];
    var numeric = th.getAttribute("data-type") === "num";
    var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    var sign = dir === "ascending" ? 1 : -1;
    for (var h = 0; h < heads.length; h++) {
      heads[h].removeAttribute("aria-sort");
    }
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.map.call(body.rows, function (tr) {
      return { tr: tr, k: key(tr.cells[col], numeric), i: Number(tr.getAttribute("data-order")) };
    });
    rows.sort(function (a, b) {
      // Missing values last whatever the direction: they are not small, they are absent.
      if (a.k === null || b.k === null) {
        return compare(a.k, b.k, numeric) || a.i - b.i;
      }
      return sign * compare(a.k, b.k, numeric) || a.i - b.i;
    });
    rows.forEach(function (r) {
      body.appendChild(r.tr);
    });
  }

  var tables = document.querySelectorAll("table[data-sortable]");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr, i) {
      tr.setAttribute("data-order", String(i));
    });
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (button) {
        button.addEventListener("click", function () {
          sortBy(table, heads, col);
        });
      }
    });
  });
})();
