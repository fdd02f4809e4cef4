/* Trostpflaster — company report charts (views/pages/company_report.html).
 * Draws the figures of GET /company/report.json (the same numbers the page's
 * tables show) with Chart.js (static/vendor/chart.umd.min.js, loaded before
 * this file, both with `defer`). No inline script, no inline style: CSP-safe.
 * Series labels come from data-label-* attributes on each <canvas>, so the
 * charts speak the page's language. Without JavaScript, or if anything fails,
 * the charts stay hidden and the tables carry the figures.
 */
(function () {
  'use strict';

  var doc = document;
  var boxes = doc.querySelectorAll('.report-chart[data-report-url]');
  if (!boxes.length) return;

  function fail() {
    for (var i = 0; i < boxes.length; i++) boxes[i].classList.add('report-failed');
  }
  if (!window.Chart || !window.fetch) { fail(); return; }

  var lang = doc.documentElement.lang === 'en' ? 'en-GB' : 'de-DE';
  var css = window.getComputedStyle(doc.documentElement);
  function cssVar(name, fallback) {
    var v = css.getPropertyValue(name);
    return v && v.trim() ? v.trim() : fallback;
  }
  var colours = {
    sent: cssVar('--muted', '#655c55'),
    claimed: cssVar('--accent', '#c2410c'),
    redeemed: cssVar('--ok', '#166534')
  };
  var ink = cssVar('--ink', '#1f1a17');
  var grid = cssVar('--border', '#e5d9cd');
  var reduced = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;

  function moneyFormat(currency, digits) {
    try {
      return new Intl.NumberFormat(lang, { style: 'currency', currency: currency || 'EUR', minimumFractionDigits: digits, maximumFractionDigits: digits });
    } catch (e) {
      return { format: function (n) { return n.toFixed(digits) + ' ' + (currency || 'EUR'); } };
    }
  }

  function options(data, horizontal) {
    var exact = moneyFormat(data.currency, 2);
    var whole = moneyFormat(data.currency, 0);
    var valueAxis = {
      beginAtZero: true,
      ticks: { color: ink, precision: 0, callback: function (v) { return whole.format(v); } },
      grid: { color: grid }
    };
    var labelAxis = { ticks: { color: ink, autoSkip: true }, grid: { display: false } };
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduced ? false : { duration: 400 },
      indexAxis: horizontal ? 'y' : 'x',
      scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      plugins: {
        legend: { position: 'bottom', labels: { color: ink } },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = horizontal ? ctx.parsed.x : ctx.parsed.y;
              return ctx.dataset.label + ': ' + exact.format(v);
            }
          }
        }
      }
    };
  }

  function euros(cents) { return cents / 100; }

  function dataset(canvas, key, values) {
    return {
      label: canvas.getAttribute('data-label-' + key) || key,
      data: values,
      backgroundColor: colours[key],
      borderColor: colours[key],
      borderWidth: 1
    };
  }

  function drawMonths(canvas, data) {
    var months = data.months || [];
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: months.map(function (m) { return m.label; }),
        datasets: [
          dataset(canvas, 'sent', months.map(function (m) { return euros(m.sent_cents); })),
          dataset(canvas, 'claimed', months.map(function (m) { return euros(m.claimed_cents); })),
          dataset(canvas, 'redeemed', months.map(function (m) { return euros(m.redeemed_cents); }))
        ]
      },
      options: options(data, false)
    });
  }

  function drawPartners(canvas, data) {
    // The ten partners with the most value; the table lists every one.
    var ps = (data.partners || []).slice(0, 10);
    new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: ps.map(function (p) { return p.name; }),
        datasets: [
          dataset(canvas, 'claimed', ps.map(function (p) { return euros(p.claimed_cents); })),
          dataset(canvas, 'redeemed', ps.map(function (p) { return euros(p.redeemed_cents); }))
        ]
      },
      options: options(data, true)
    });
  }

  function hasValue(data, partners) {
    var rows = (partners ? data.partners : data.months) || [];
    return rows.some(function (r) { return (r.sent_cents || 0) + r.claimed_cents + r.redeemed_cents > 0; });
  }

  var requests = {};
  function load(url) {
    if (!requests[url]) {
      requests[url] = window.fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (res) {
          if (!res.ok) throw new Error('report: HTTP ' + res.status);
          return res.json();
        });
    }
    return requests[url];
  }

  Array.prototype.forEach.call(boxes, function (box) {
    var canvas = box.querySelector('canvas[data-chart]');
    if (!canvas) return;
    load(box.getAttribute('data-report-url')).then(function (data) {
      var partners = canvas.getAttribute('data-chart') === 'partners';
      // Nothing to draw (a new company, or partners only offered so far):
      // an empty plot says less than the table below it.
      if (!hasValue(data, partners)) box.classList.add('report-empty');
      else if (partners) drawPartners(canvas, data);
      else drawMonths(canvas, data);
      canvas.setAttribute('data-ready', '1');
    }).catch(function () {
      box.classList.add('report-failed');
    });
  });
})();
