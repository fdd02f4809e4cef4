/* Trostpflaster — message templates on the send form (CSP-safe, no inline script).
 * <select data-template-target="textareaId"> with <option data-text="…">: choosing a
 * template fills the message unless the agent already wrote their own text. Without
 * JavaScript the server fills an empty message from the chosen template instead.
 */
(function () {
  'use strict';
  var last = {};
  document.addEventListener('change', function (e) {
    var sel = e.target;
    if (!sel || !sel.matches || !sel.matches('select[data-template-target]')) return;
    var id = sel.getAttribute('data-template-target');
    var area = document.getElementById(id);
    if (!area) return;
    var opt = sel.options[sel.selectedIndex];
    var text = opt ? (opt.getAttribute('data-text') || '') : '';
    var current = area.value.trim();
    if (current === '' || current === (last[id] || '').trim()) {
      area.value = text;
      last[id] = text;
      area.dispatchEvent(new Event('input', { bubbles: true }));
    }
  });
})();
