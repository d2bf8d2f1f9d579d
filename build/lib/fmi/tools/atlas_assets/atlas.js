// fmi atlas, layer pages: jump to a filter, sort the filters. Plain JavaScript, no libraries.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var jump = document.getElementById("jump");
  if (jump) {
    jump.addEventListener("submit", function (event) {
      event.preventDefault();
      var index = document.getElementById("jump-to").value.trim();
      var cell = document.getElementById("cell-" + index);
      var message = document.getElementById("jump-message");
      if (!cell || !cell.getAttribute("href")) {
        message.textContent = "filter " + index + " is not in this run";
        return;
      }
      message.textContent = "";
      window.location.href = cell.getAttribute("href");
    });
  }
  var sort = document.getElementById("sort");
  if (sort) {
    sort.addEventListener("change", function () {
      var container = document.getElementById("cells");
      var cells = Array.prototype.slice.call(container.children);
      var by = sort.value;
      cells.sort(function (a, b) {
        if (by === "index") {
          return Number(a.dataset.index) - Number(b.dataset.index);
        }
        var x = Number(a.getAttribute("data-" + by)), y = Number(b.getAttribute("data-" + by));
        if (isNaN(x)) { return 1; }
        if (isNaN(y)) { return -1; }
        return y - x;
      });
      cells.forEach(function (cell) { container.appendChild(cell); });
    });
  }
});
