// Keyboard shortcuts for the review queue: j/k move between items, c claim, r release,
// b confirm (block), d dismiss, e escalate. Keys act on the focused item (or the item
// holding focus), and never while typing in a field.
(function () {
  "use strict";
  function items() { return Array.from(document.querySelectorAll("article.item")); }
  function current() {
    var active = document.activeElement;
    return active ? active.closest("article.item") : null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var list = items();
    if (!list.length) { return; }
    var here = current();
    var key = event.key.toLowerCase();
    if (key === "j" || key === "k") {
      var index = here ? list.indexOf(here) : -1;
      var next = key === "j" ? Math.min(index + 1, list.length - 1) : Math.max(index - 1, 0);
      list[next].focus();
      event.preventDefault();
      return;
    }
    var item = here || list[0];
    var button = item.querySelector('button[data-key="' + key + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
  // After htmx swaps in a new page, focus the main region so screen readers follow.
  document.addEventListener("htmx:afterSettle", function () {
    var main = document.getElementById("main");
    if (main && !document.activeElement.closest("main")) { main.focus(); }
  });
})();
