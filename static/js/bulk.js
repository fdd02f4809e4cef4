/* Bulk sending: a form marked data-once disables its button after the first
 * submit, so a double click uploads or sends once (the server also sends a
 * batch only once). */
(function () {
  'use strict';
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.matches || !form.matches('form[data-once]')) return;
    if (form.dataset.submitted) {
      e.preventDefault();
      return;
    }
    form.dataset.submitted = '1';
    var buttons = form.querySelectorAll('button[type="submit"]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
      buttons[i].setAttribute('aria-busy', 'true');
    }
  });
})();
