/* Trostpflaster — small progressive enhancements. No inline scripts needed (CSP-safe).
 * Load after htmx, both with `defer`:
 *   <script src="/static/vendor/htmx.min.js" defer></script>
 *   <script src="/static/js/app.js" defer></script>
 */
(function () {
  'use strict';

  var doc = document;
  doc.documentElement.classList.add('js');

  /* ---- htmx: CSP-friendly config + CSRF header ---- */
  if (window.htmx && window.htmx.config) {
    // htmx would otherwise inject an inline <style> (blocked by a strict CSP);
    // app.css ships the .htmx-indicator rules instead. No eval (hx-on, js: values).
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
    // Swap 422 answers too: they carry the form's error messages.
    window.htmx.config.responseHandling = [
      { code: '204', swap: false },
      { code: '[23]..', swap: true },
      { code: '422', swap: true },
      { code: '[45]..', swap: false, error: true },
      { code: '...', swap: false }
    ];
  }

  doc.addEventListener('htmx:configRequest', function (e) {
    var meta = doc.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content && e.detail && e.detail.headers) {
      e.detail.headers['X-Csrf-Token'] = meta.content;
    }
  });

  /* ---- (a) <select|input data-autosubmit>: submit the form on change ---- */
  doc.addEventListener('change', function (e) {
    var el = e.target;
    if (!el || !el.matches || !el.matches('select[data-autosubmit], input[data-autosubmit]')) return;
    var form = el.form;
    if (!form) return;
    // requestSubmit fires the submit event, so data-confirm and htmx still apply.
    if (typeof form.requestSubmit === 'function') form.requestSubmit();
    else form.submit();
  });

  /* ---- (b) [data-copy="elementId"]: copy that element's text ---- */
  function fallbackCopy(text) {
    var ta = doc.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.top = '-100px';
    doc.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = doc.execCommand('copy'); } catch (err) { ok = false; }
    doc.body.removeChild(ta);
    return ok;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        if (!fallbackCopy(text)) throw new Error('copy failed');
      });
    }
    return new Promise(function (resolve, reject) {
      if (fallbackCopy(text)) resolve(); else reject(new Error('copy failed'));
    });
  }

  doc.addEventListener('click', function (e) {
    var btn = e.target && e.target.closest ? e.target.closest('[data-copy]') : null;
    if (!btn) return;
    var src = doc.getElementById(btn.getAttribute('data-copy'));
    if (!src) return;
    e.preventDefault();
    var isField = src.tagName === 'INPUT' || src.tagName === 'TEXTAREA';
    var text = isField ? src.value : (src.textContent || '').trim();
    copyText(text).then(function () {
      if (!btn.hasAttribute('data-copy-label')) btn.setAttribute('data-copy-label', btn.textContent);
      btn.textContent = btn.getAttribute('data-copied') || 'Kopiert ✓';
      clearTimeout(btn._copyTimer);
      btn._copyTimer = setTimeout(function () {
        btn.textContent = btn.getAttribute('data-copy-label');
        btn.removeAttribute('data-copy-label');
      }, 2000);
    }, function () {
      // Clipboard blocked: select the text so the user can copy by hand.
      if (isField) { src.focus(); src.select(); return; }
      var range = doc.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    });
  });

  /* ---- (c) form[data-confirm]: ask before submitting ---- */
  // Capture phase on document runs before htmx's own submit listener on the form.
  doc.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form || !form.matches || !form.matches('form[data-confirm]')) return;
    if (!window.confirm(form.getAttribute('data-confirm'))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
})();
