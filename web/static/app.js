// ethos dashboard: live updates and charts.
//
// The pages are complete without this file; it adds two things. Live
// updates: the page subscribes to /events for its topic (body[data-topic]);
// on a "change" event it fetches its own URL again and swaps in every
// element marked data-live (by id), so model text is only ever parsed as
// HTML the server escaped. Charts: every .chart[data-src] is drawn with
// uPlot from the JSON API and redrawn on each change.
(function () {
  'use strict';

  var body = document.body;
  var stateEl = document.getElementById('live-state');
  var palette = ['#4b3fbf', '#1a7f37', '#c62828', '#b26a00', '#0b62c4', '#8e24aa', '#00838f'];

  function setState(text, cls) {
    if (!stateEl) return;
    stateEl.textContent = text;
    stateEl.className = cls;
  }

  // --- charts -------------------------------------------------------------

  function note(el, state, text) {
    if (el._plot) {
      el._plot.destroy();
      el._plot = null;
    }
    el.textContent = '';
    var p = document.createElement('p');
    p.className = 'note';
    p.textContent = text;
    el.appendChild(p);
    el.dataset.state = state;
  }

  function drawChart(el) {
    fetch(el.dataset.src, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (sec) {
        if (sec.error) {
          note(el, 'error', 'Chart unavailable: ' + sec.error.message);
          return;
        }
        if (sec.pending) {
          note(el, 'pending', 'Computing…');
          return;
        }
        var c = sec.value;
        if (c && el.dataset.key) c = c[el.dataset.key];
        if (!c || !c.x || c.x.length === 0 || !c.series || c.series.length === 0) {
          note(el, 'empty', 'No data yet.');
          return;
        }
        var data = [c.x].concat(c.series.map(function (s) { return s.values; }));
        if (el._plot && el._plot.series.length === data.length) {
          el._plot.setData(data);
          el.dataset.state = 'drawn';
          return;
        }
        if (el._plot) el._plot.destroy();
        el.textContent = '';
        var opts = {
          title: c.title,
          width: Math.max(el.clientWidth - 16, 300),
          height: 220,
          scales: { x: { time: !!c.time } },
          axes: [{ label: c.x_label }, { label: c.y_label }],
          series: [{ label: c.x_label }].concat(c.series.map(function (s, i) {
            return { label: s.label, stroke: palette[i % palette.length], width: 2, spanGaps: true };
          }))
        };
        el._plot = new uPlot(opts, data, el);
        el.dataset.state = 'drawn';
      })
      .catch(function (e) { note(el, 'error', 'Chart unavailable: ' + e.message); });
  }

  function drawCharts() {
    if (typeof uPlot === 'undefined') return;
    document.querySelectorAll('.chart[data-src]').forEach(drawChart);
  }

  // --- live updates -------------------------------------------------------

  var refreshing = false;
  var again = false;

  function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(location.pathname + location.search, { credentials: 'same-origin', headers: { 'X-Ethos-Refresh': '1' } })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live][id]').forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (!fresh) return;
          var node = document.importNode(fresh, true);
          el.replaceWith(node);
          if (window.htmx) window.htmx.process(node);
        });
        if (doc.body && doc.body.dataset.version) body.dataset.version = doc.body.dataset.version;
        setState('live · updated ' + new Date().toLocaleTimeString(), 'live-on');
        drawCharts();
        body.dispatchEvent(new CustomEvent('ethos:refreshed'));
      })
      .catch(function (e) { setState('live · refresh failed: ' + e.message, 'live-err'); })
      .finally(function () {
        refreshing = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  function watch() {
    var topic = body.dataset.topic;
    if (!topic || !window.EventSource) return;
    var url = '/events?topic=' + encodeURIComponent(topic) + '&since=' + encodeURIComponent(body.dataset.version || '');
    var es = new EventSource(url);
    es.onopen = function () { setState('live', 'live-on'); };
    es.onerror = function () { setState('live · reconnecting', 'live-off'); };
    es.addEventListener('change', refresh);
  }

  drawCharts();
  watch();
})();
