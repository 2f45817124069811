// Stacked tables on phones: each body cell of a table.pp-stack gets its column's header
// as data-label (unless the template set one), shown before the value by platzplan.css.
(function () {
  function label(table) {
    var heads = Array.prototype.map.call(
      table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        if (cell.tagName === "TD" && !cell.hasAttribute("data-label") && heads[column]) {
          cell.setAttribute("data-label", heads[column]);
        }
        column += cell.colSpan || 1;
      });
    });
  }
  function run() { Array.prototype.forEach.call(document.querySelectorAll("table.pp-stack"), label); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();
