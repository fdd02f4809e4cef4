/* Trostpflaster — scan a voucher's QR code at the till with the camera.
 * Uses the browser's BarcodeDetector where it reads QR codes, else jsQR
 * (static/vendor/jsQR.js, loaded on first use). The QR code holds the
 * voucher code (or a link with ?code=…); the scanned code goes into the
 * typed-code field and the form is submitted, so the server path is the
 * same as typing. Without a camera nothing changes: typing keeps working.
 * Loaded with `defer` by views/pages/redeem.html; no inline script needed.
 */
(function () {
  'use strict';

  var doc = document;
  var start = doc.getElementById('scan-start');
  var box = doc.getElementById('scan');
  var input = doc.getElementById('f-code');
  if (!start || !box || !input || !input.form) return;
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== 'function') return;

  var video = doc.getElementById('scan-video');
  var status = doc.getElementById('scan-status');
  var stopBtn = doc.getElementById('scan-stop');
  var stream = null;
  var timer = 0;
  var canvas = null;
  var busy = false;

  start.hidden = false;

  function say(key) {
    var msg = box.getAttribute('data-' + key);
    if (msg && status) status.textContent = msg;
  }

  /* The code inside what the camera read: a bare code, or a link carrying
   * ?code=… (a QR that a phone's camera app would open). */
  function codeFrom(text) {
    text = (text || '').trim();
    try {
      var u = new URL(text);
      var c = u.searchParams.get('code');
      if (c) text = c;
    } catch (e) { /* not a URL: the code itself */ }
    var bare = text.replace(/[\s-]/g, '');
    return /^[0-9A-Za-z]{16,32}$/.test(bare) ? text : '';
  }

  function stop() {
    if (timer) { clearTimeout(timer); timer = 0; }
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
    if (video) video.srcObject = null;
    box.hidden = true;
    start.hidden = false;
  }

  function found(text) {
    var code = codeFrom(text);
    if (!code) { say('other'); return false; }
    stop();
    input.value = code;
    if (typeof input.form.requestSubmit === 'function') input.form.requestSubmit();
    else input.form.submit();
    return true;
  }

  var jsqrLoading = null;
  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    if (!jsqrLoading) {
      jsqrLoading = new Promise(function (resolve, reject) {
        var s = doc.createElement('script');
        s.src = box.getAttribute('data-jsqr') || '/static/vendor/jsQR.js';
        s.onload = function () { if (window.jsQR) resolve(window.jsQR); else reject(new Error('jsQR missing')); };
        s.onerror = function () { reject(new Error('jsQR failed to load')); };
        doc.head.appendChild(s);
      });
    }
    return jsqrLoading;
  }

  /* A decoder: a function (video) → Promise<string|null>. */
  function makeDecoder() {
    if ('BarcodeDetector' in window && typeof window.BarcodeDetector.getSupportedFormats === 'function') {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf('qr_code') < 0) return jsqrDecoder();
        var detector = new window.BarcodeDetector({ formats: ['qr_code'] });
        return function (v) {
          return detector.detect(v).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        };
      }, jsqrDecoder);
    }
    return jsqrDecoder();
  }

  function jsqrDecoder() {
    return loadJsQR().then(function (jsQR) {
      canvas = canvas || doc.createElement('canvas');
      var ctx = canvas.getContext('2d', { willReadFrequently: true });
      return function (v) {
        var w = v.videoWidth, h = v.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        // Scale big frames down: decoding is faster and QR codes stay readable.
        var scale = Math.min(1, 800 / Math.max(w, h));
        canvas.width = Math.round(w * scale);
        canvas.height = Math.round(h * scale);
        ctx.drawImage(v, 0, 0, canvas.width, canvas.height);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var r = jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
        return Promise.resolve(r ? r.data : null);
      };
    });
  }

  function loop(decode) {
    if (!stream) return;
    if (busy || video.readyState < 2) { timer = setTimeout(function () { loop(decode); }, 150); return; }
    busy = true;
    decode(video).then(function (text) {
      busy = false;
      if (text && found(text)) return;
      timer = setTimeout(function () { loop(decode); }, 120);
    }, function () {
      busy = false;
      timer = setTimeout(function () { loop(decode); }, 300);
    });
  }

  start.addEventListener('click', function () {
    start.hidden = true;
    box.hidden = false;
    say('starting');
    navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.setAttribute('playsinline', '');
        video.muted = true;
        var p = video.play();
        if (p && p.catch) p.catch(function () {});
        return makeDecoder();
      })
      .then(function (decode) {
        if (!stream) return;
        say('hint');
        loop(decode);
      })
      .catch(function (err) {
        var denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
        stop();
        say(denied ? 'denied' : 'failed');
        input.focus();
      });
  });

  if (stopBtn) stopBtn.addEventListener('click', function () { stop(); input.focus(); });
  window.addEventListener('pagehide', stop);
})();
