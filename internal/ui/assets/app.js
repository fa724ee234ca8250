// mlserve dashboard: one page, hash routes, plain SVG charts, polling.
// It reads the server's own JSON APIs and /ui/history; nothing else.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const refreshMS = Math.max(250, parseInt(document.querySelector('meta[name="mlserve-refresh-ms"]').content, 10) || 2000);
  const admin = document.querySelector('meta[name="mlserve-admin"]').content; // token, open or closed
  const main = document.getElementById("main");
  const live = document.getElementById("live");
  const state = { stats: null, history: null, historyKey: "", historyAt: 0, models: null, modelsErr: "", drift: {}, page: null, timer: 0 };

  // ---- small helpers ----
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  const token = () => sessionStorage.getItem("mlserve-admin-token") || "";
  async function call(method, path, body, admin) {
    const h = {};
    if (admin && token()) h["Authorization"] = "Bearer " + token();
    let b = body;
    if (body && !(body instanceof FormData)) { h["Content-Type"] = "application/json"; b = JSON.stringify(body); }
    const r = await fetch(path, { method: method, headers: h, body: b, cache: "no-store" });
    let data = null;
    const text = await r.text();
    if (text) { try { data = JSON.parse(text); } catch (e) { data = { detail: text }; } }
    return { ok: r.ok, status: r.status, data: data };
  }
  const problem = (r) => r.status + ": " + ((r.data && (r.data.detail || r.data.title)) || "request failed") +
    ((r.data && r.data.errors && r.data.errors.length) ? " (" + r.data.errors.map((e) => e.message).join("; ") + ")" : "");
  const int = (v) => (v === undefined || v === null) ? "0" : String(v);
  const fix = (v, d) => (v === undefined || v === null || Number.isNaN(v)) ? "—" : Number(v).toFixed(d);
  const pct = (v) => (v === undefined || v === null || Number.isNaN(v)) ? "—" : (100 * v).toFixed(1) + "%";
  const last = (arr) => { if (!arr) return null; for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return arr[i]; return null; };
  const hhmmss = (ms) => new Date(ms).toTimeString().slice(0, 8);
  const ids = () => Object.keys((state.stats && state.stats.models) || {}).sort();
  function card(key, value, id) {
    return el("div", { class: "card" }, el("div", { class: "k", text: key }), el("div", { class: "v", id: id, text: value }));
  }
  // put replaces what is in the element sel names with nodes, unless it
  // would render the same: a poll then keeps the keyboard focus where it is.
  function put(sel, ...nodes) {
    const box = typeof sel === "string" ? document.querySelector(sel) : sel;
    const probe = document.createElement("div");
    probe.append(...nodes);
    if (box.innerHTML === probe.innerHTML) return;
    box.replaceChildren(...probe.childNodes);
  }
  function panel(title, id, ...kids) { return el("section", { class: "panel", id: id, "aria-label": title }, el("h2", { text: title }), ...kids); }
  function legend(names) {
    return el("ul", { class: "legend" }, names.map((n, i) => el("li", {}, el("span", { class: "sw " + (n.cls || "s" + (i % 8)) }), n.name || n)));
  }

  // ---- charts (plain SVG) ----
  const W = 420, H = 170, L = 40, R = 8, T = 8, B = 22;
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function tick(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? String(+v.toFixed(1)) : String(+v.toPrecision(2)); }
  // lineChart draws series [{name, values}] against times (unix ms).
  function lineChart(label, times, series, opts) {
    opts = opts || {};
    const fig = el("figure", { class: "chart" });
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    const values = series.flatMap((x) => x.values).filter((v) => v !== null);
    const lastVals = series.map((x) => x.name + " " + fix(last(x.values), 3)).join(", ");
    s.setAttribute("aria-label", label + (values.length ? ": latest " + lastVals : ": no data yet"));
    const ymax = opts.ymax || niceMax(Math.max(0, ...values, ...(opts.thresholds || []).map((t) => t.v)));
    const n = times.length;
    const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
    const y = (v) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
    s.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    s.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    for (const f of [0, 0.5, 1]) {
      const t = svg("text", { x: L - 4, y: y(ymax * f) + 4, "text-anchor": "end" });
      t.textContent = tick(ymax * f);
      s.append(t);
    }
    if (n > 0) {
      const a = svg("text", { x: L, y: H - 6 }); a.textContent = hhmmss(times[0]); s.append(a);
      const b = svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }); b.textContent = hhmmss(times[n - 1]); s.append(b);
    }
    for (const t of opts.thresholds || []) {
      s.append(svg("line", { class: t.cls, x1: L, x2: W - R, y1: y(t.v), y2: y(t.v) }));
    }
    series.forEach((ser, k) => {
      let d = "", pen = false;
      ser.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) s.append(svg("path", { class: "line s" + (k % 8), d: d }));
      // a lone point between gaps would not show as a path: mark it
      ser.values.forEach((v, i) => {
        if (v !== null && (i === 0 || ser.values[i - 1] === null) && (i === n - 1 || ser.values[i + 1] === null))
          s.append(svg("circle", { class: "s" + (k % 8), cx: x(i), cy: y(v), r: 2.5 }));
      });
    });
    fig.append(s);
    if (!values.length) fig.append(el("p", { class: "empty", text: "No data yet: the history fills every " + ((state.history && state.history.resolution_s) || "few") + " s." }));
    fig.append(legend(series.map((x) => x.name)));
    return fig;
  }
  // barChart draws bars [{name, value, ref?}] with optional reference bars.
  function barChart(label, bars, opts) {
    opts = opts || {};
    const fig = el("figure", { class: "chart" });
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
    s.setAttribute("aria-label", label + ": " + bars.map((b) => b.name + " " + fix(b.value, 3)).join(", "));
    const ymax = opts.ymax || niceMax(Math.max(0, ...bars.map((b) => b.value), ...bars.map((b) => b.ref || 0)));
    const n = Math.max(1, bars.length), bw = (W - L - R) / n;
    const y = (v) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
    s.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    for (const f of [0, 0.5, 1]) {
      const t = svg("text", { x: L - 4, y: y(ymax * f) + 4, "text-anchor": "end" });
      t.textContent = opts.percent ? Math.round(100 * ymax * f) + "%" : tick(ymax * f);
      s.append(t);
    }
    const every = Math.ceil(n / 12);
    bars.forEach((b, i) => {
      const x0 = L + i * bw;
      if (b.ref !== undefined) s.append(svg("rect", { class: "ref", x: x0 + bw * 0.1, width: bw * 0.8, y: y(b.ref), height: H - B - y(b.ref) }));
      const w = b.ref !== undefined ? bw * 0.5 : bw * 0.8;
      s.append(svg("rect", { class: "bar s" + (opts.cls || 0), x: x0 + (bw - w) / 2, width: w, y: y(b.value), height: Math.max(0, H - B - y(b.value)) }));
      if (i % every === 0) {
        const t = svg("text", { x: x0 + bw / 2, y: H - 8, "text-anchor": "middle" });
        t.textContent = b.name; s.append(t);
      }
    });
    fig.append(s);
    if (opts.legend) fig.append(legend(opts.legend));
    return fig;
  }
  function hist(name) { return state.history ? state.history.series[name] || [] : []; }
  function mhist(id, name) {
    const m = state.history && state.history.models[id];
    return m ? m.series[name] || [] : [];
  }

  // ---- pages ----
  const pages = {};

  pages.overview = {
    title: "Overview",
    build() {
      const sel = el("select", { id: "lat-model", "aria-label": "Model for the latency chart", onchange: () => refresh() });
      return [el("h1", { text: "Overview" }),
        el("div", { class: "cards", id: "ov-cards" }),
        el("div", { class: "grid" },
          panel("Requests per second", "ov-rps", el("div", { class: "body" })),
          panel("Errors per second by kind", "ov-errors", el("div", { class: "body" })),
          panel("Latency p50 / p90 / p99 (ms)", "ov-latency", el("div", { class: "row" }, sel), el("div", { class: "body" })),
          panel("Queue depth", "ov-queue", el("div", { class: "body" })),
          panel("Cache hit ratio", "ov-cache", el("div", { class: "body" })),
          panel("Redis fallback", "ov-redis", el("div", { class: "body" }))),
        panel("Model versions", "ov-models", el("div", { class: "tablewrap body" }))];
    },
    update() {
      const st = state.stats; if (!st) return;
      const h = state.history || { times: [], series: {}, errors_by_kind: {}, models: {} };
      const t = h.times;
      let rps = 0, queued = 0;
      for (const m of Object.values(st.models || {})) rps += m.throughput_rps || 0;
      for (const q of Object.values(st.queues || {})) queued += q.queued;
      const c = st.cache;
      const hits = c ? c.memory.hits : 0, misses = c ? c.memory.misses : 0;
      const redis = !c || !c.redis ? "no Redis" : c.redis_fallback ? "fallback (Redis down)" : "connected";
      const cards = document.getElementById("ov-cards");
      cards.replaceChildren(card("Requests", int(st.requests), "ov-requests"), card("Errors", int(st.errors), "ov-errors-total"),
        card("Error rate", st.requests ? pct(st.errors / st.requests) : "—", "ov-error-rate"),
        card("Requests/s (last min)", fix(rps, 2), "ov-rps-now"), card("Queue depth", String(queued), "ov-queue-now"),
        card("Cache hit ratio", c && hits + misses ? pct(hits / (hits + misses)) : "—", "ov-cache-ratio"),
        card("Redis", redis, "ov-redis-state"), card("Uptime", fix(st.uptime_seconds / 60, 1) + " min", "ov-uptime"));
      document.querySelector("#ov-rps .body").replaceChildren(lineChart("Requests per second", t,
        [{ name: "requests/s", values: hist("requests_per_s") }, { name: "texts/s", values: hist("texts_per_s") }]));
      const kinds = Object.keys(h.errors_by_kind || {}).sort();
      document.querySelector("#ov-errors .body").replaceChildren(lineChart("Errors per second by kind", t,
        kinds.length ? kinds.map((k) => ({ name: k, values: h.errors_by_kind[k] })) : [{ name: "errors/s", values: hist("errors_per_s") }]));
      const sel = document.getElementById("lat-model");
      const all = ids();
      if (sel.options.length !== all.length || [...sel.options].some((o, i) => o.value !== all[i])) {
        const keep = sel.value;
        sel.replaceChildren(...all.map((id) => el("option", { value: id, text: id })));
        if (all.includes(keep)) sel.value = keep;
      }
      const id = sel.value;
      document.querySelector("#ov-latency .body").replaceChildren(lineChart("Latency of " + (id || "no model"), t,
        [{ name: "p50", values: mhist(id, "p50_ms") }, { name: "p90", values: mhist(id, "p90_ms") }, { name: "p99", values: mhist(id, "p99_ms") }]));
      document.querySelector("#ov-queue .body").replaceChildren(lineChart("Queue depth", t, [{ name: "queued", values: hist("queue_depth") }]));
      document.querySelector("#ov-cache .body").replaceChildren(lineChart("Cache hit ratio", t, [{ name: "hit ratio", values: hist("cache_hit_ratio") }], { ymax: 1 }));
      document.querySelector("#ov-redis .body").replaceChildren(c && c.redis ?
        lineChart("Redis fallback (1 = Redis down)", t, [{ name: "fallback", values: hist("redis_fallback") }], { ymax: 1 }) :
        el("p", { class: "empty", text: "No Redis tier configured (cache.redis_url is empty)." }));
      const rows = all.map((id) => {
        const m = st.models[id];
        return el("tr", { "data-model": id },
          el("td", {}, el("a", { href: "#/model/" + encodeURIComponent(id), text: id })),
          el("td", { class: "n", "data-k": "requests", text: int(m.requests) }),
          el("td", { class: "n", "data-k": "texts", text: int(m.texts) }),
          el("td", { class: "n", "data-k": "errors", text: int(m.errors) }),
          el("td", { class: "n hide-narrow", "data-k": "p50", text: fix(m.latency_p50_ms, 3) }),
          el("td", { class: "n hide-narrow", "data-k": "p90", text: fix(m.latency_p90_ms, 3) }),
          el("td", { class: "n", "data-k": "p99", text: fix(m.latency_p99_ms, 3) }),
          el("td", { class: "n hide-narrow", "data-k": "cache", text: m.cache_hits || m.cache_misses ? pct(m.cache_hit_ratio || 0) : "—" }),
          el("td", {}, el("span", { class: "badge " + (m.drift || "unknown"), text: m.drift || "—" })));
      });
      put("#ov-models .body", all.length ? el("table", {},
        el("thead", {}, el("tr", {}, ["Version", "Requests", "Texts", "Errors", "p50 ms", "p90 ms", "p99 ms", "Cache hits", "Drift"].map((x, i) =>
          el("th", { scope: "col", class: (i > 0 && i < 8 ? "n" : "") + ([4, 5, 7].includes(i) ? " hide-narrow" : ""), text: x })))),
        el("tbody", {}, rows)) : el("p", { class: "empty", text: "No model has answered yet." }));
    },
  };

  pages.models = {
    title: "Models",
    build() {
      const form = el("form", { class: "upload", id: "upload-form" },
        el("label", {}, "Model file (.joblib, .pkl, .onnx)", el("input", { type: "file", id: "up-file", name: "file", required: true })),
        el("label", {}, "model.yaml (optional)", el("input", { type: "file", id: "up-manifest", name: "manifest" })),
        el("label", {}, "Name", el("input", { type: "text", id: "up-name", name: "name", required: true, pattern: "[a-z0-9][a-z0-9_.\\-]*" })),
        el("label", {}, "Version (empty: next)", el("input", { type: "text", id: "up-version", name: "version", placeholder: "v3" })),
        el("label", { class: "check" }, el("input", { type: "checkbox", id: "up-default", name: "make_default" }), "Make it the default"),
        el("button", { type: "submit", class: "primary", id: "up-submit", text: "Upload and load" }));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const fd = new FormData();
        fd.append("file", document.getElementById("up-file").files[0]);
        const mf = document.getElementById("up-manifest").files[0];
        if (mf) fd.append("manifest", mf);
        fd.append("name", document.getElementById("up-name").value);
        const v = document.getElementById("up-version").value.trim();
        if (v) fd.append("version", v);
        if (document.getElementById("up-default").checked) fd.append("make_default", "true");
        say("Uploading…", "");
        const r = await call("POST", "/models", fd, true);
        say(r.ok ? "Loaded " + r.data.id + (r.data.default ? " (default)" : "") : "Upload refused: " + problem(r), r.ok ? "okmsg" : "err");
        await refresh();
      });
      return [el("h1", { text: "Models" }),
        el("div", { class: "msg", id: "admin-msg", role: "alert" }),
        panel("Versions", "models-list", el("div", { class: "tablewrap body" })),
        panel("Upload a version", "models-upload", el("p", { class: "meta", text: "Admin actions send the admin token typed above (kept in this tab only)." }), form)];
    },
    update() {
      const body = document.querySelector("#models-list .body");
      const list = state.models ? state.models.models : ids().map((id) => ({ id: id, name: id.replace(/-v\d+$/, ""), status: "unknown" }));
      const head = state.models ? "" : "States and metadata need the admin API (" + state.modelsErr + ")" + (admin === "token" ? ": type the admin token above." : ".");
      const rows = list.map((m) => {
        const meta = m.metadata || {}, art = m.artifact || {};
        return el("tr", { "data-model": m.id },
          el("td", {}, el("a", { href: "#/model/" + encodeURIComponent(m.id), text: m.id })),
          el("td", {}, el("span", { class: "badge " + m.status, "data-k": "status", text: m.status })),
          el("td", { "data-k": "default", text: m.default ? "default" : "" }),
          el("td", { class: "hide-narrow" }, el("div", { text: [m.framework, [].concat(art.estimator || []).join(",").split(",").join(" › ")].filter(Boolean).join(" · ") }),
            el("div", { class: "meta", text: [meta.description, m.labels && m.labels.length ? "labels: " + m.labels.join(", ") : "",
              m.accuracy !== undefined ? "accuracy " + fix(m.accuracy, 4) : "", meta.training_date ? "trained " + meta.training_date : "",
              art.library_version ? "library " + art.library_version : "", m.error || ""].filter(Boolean).join(" · ") })),
          el("td", { class: "hide-narrow", text: m.loaded_at ? new Date(m.loaded_at).toLocaleString() : "—" }),
          el("td", { class: "n hide-narrow", text: m.load_ms !== undefined ? fix(m.load_ms, 1) : "—" }),
          el("td", {}, el("div", { class: "actions" },
            el("button", { type: "button", "data-act": "default", disabled: admin === "closed" || m.default || m.status === "failed", onclick: () => setDefault(m), text: "Set default" }),
            el("button", { type: "button", "data-act": "unload", disabled: admin === "closed" || m.status === "unloaded" || m.status === "failed", onclick: () => unload(m), text: "Unload" }))));
      });
      put(body, ...[head ? el("p", { class: "meta", id: "models-need-token", text: head }) : null,
        el("table", {}, el("thead", {}, el("tr", {}, ["Version", "State", "Default", "Model", "Loaded", "Load ms", "Actions"].map((x, i) =>
          el("th", { scope: "col", class: [3, 4, 5].includes(i) ? "hide-narrow" : "", text: x })))), el("tbody", {}, rows))].filter(Boolean));
    },
  };
  function say(text, cls) { const m = document.getElementById("admin-msg"); if (m) { m.className = "msg " + cls; m.textContent = text; } }
  async function setDefault(m) {
    const r = await call("PUT", "/models/" + encodeURIComponent(m.name) + "/default", { version: m.id }, true);
    say(r.ok ? m.id + " is now the default of " + m.name : "Set default refused: " + problem(r), r.ok ? "okmsg" : "err");
    await refresh();
  }
  async function unload(m) {
    const r = await call("DELETE", "/models/" + encodeURIComponent(m.id), null, true);
    say(r.ok ? "Unloaded " + m.id : "Unload refused: " + problem(r), r.ok ? "okmsg" : "err");
    await refresh();
  }

  pages.model = {
    title: "Model",
    build(id) {
      this.id = id;
      return [el("h1", { text: "Model " + id }),
        el("div", { class: "cards", id: "md-cards" }),
        el("div", { class: "grid" },
          panel("Latency histogram (recent requests)", "md-latency", el("div", { class: "body" })),
          panel("Latency p50 / p90 / p99 over time (ms)", "md-latency-time", el("div", { class: "body" })),
          panel("Prediction distribution over time (per second)", "md-preds", el("div", { class: "body" })),
          panel("Predictions by label (total)", "md-preds-total", el("div", { class: "body" })),
          panel("Confidence histogram (window against reference)", "md-confidence", el("div", { class: "body" })),
          panel("Drift signals (PSI against thresholds)", "md-drift", el("div", { class: "body" })),
          panel("Live accuracy", "md-accuracy", el("div", { class: "body" })),
          Object.assign(panel("Traffic split and shadow verdicts", "md-traffic", el("div", { class: "body" })), { hidden: true }))];
    },
    update() {
      const id = this.id, st = state.stats; if (!st) return;
      const m = (st.models || {})[id];
      const d = state.drift[id];
      const info = state.models && state.models.models.find((x) => x.id === id);
      if (!m && !info) { document.getElementById("md-cards").replaceChildren(el("p", { class: "empty", text: "No figures for " + id + " yet." })); }
      const ms = m || {};
      document.getElementById("md-cards").replaceChildren(
        card("State", info ? info.status + (info.default ? " · default" : "") : "—", "md-state"),
        card("Requests", int(ms.requests), "md-requests"), card("Errors", int(ms.errors), "md-errors"),
        card("p50 / p90 / p99 ms", [ms.latency_p50_ms, ms.latency_p90_ms, ms.latency_p99_ms].map((v) => fix(v, 2)).join(" / "), "md-pcts"),
        card("Drift", d ? d.status : (ms.drift || "—"), "md-drift-status"),
        card("Live accuracy", d && d.accuracy.live !== undefined ? pct(d.accuracy.live) + " (" + d.accuracy.feedback + " feedback)" : "no feedback", "md-live-acc"));
      const lh = ms.latency_histogram || [];
      document.querySelector("#md-latency .body").replaceChildren(lh.length ?
        barChart("Latency histogram", lh.map((b) => ({ name: b.le === null || b.le === undefined ? "more" : "≤" + tick(b.le), value: b.count }))) :
        el("p", { class: "empty", text: "No request answered yet." }));
      const h = state.history || { times: [], models: {} };
      document.querySelector("#md-latency-time .body").replaceChildren(lineChart("Latency over time", h.times,
        [{ name: "p50", values: mhist(id, "p50_ms") }, { name: "p90", values: mhist(id, "p90_ms") }, { name: "p99", values: mhist(id, "p99_ms") }]));
      const preds = (h.models[id] && h.models[id].predictions) || {};
      const labels = Object.keys(preds).sort();
      document.querySelector("#md-preds .body").replaceChildren(lineChart("Predictions per second by label", h.times,
        labels.map((l) => ({ name: l, values: preds[l] }))));
      const tot = ms.predictions || {};
      const tl = Object.keys(tot).sort();
      document.querySelector("#md-preds-total .body").replaceChildren(tl.length ? el("div", {},
        barChart("Predictions by label", tl.map((l) => ({ name: l, value: tot[l] }))),
        el("dl", { class: "kv", id: "md-pred-counts" }, tl.flatMap((l) => [el("dt", { text: l }), el("dd", { "data-label": l, text: int(tot[l]) })]))) :
        el("p", { class: "empty", text: "No prediction yet." }));
      const sig = (name) => d && d.signals ? d.signals.find((s) => s.signal === name) : null;
      const conf = sig("confidence");
      document.querySelector("#md-confidence .body").replaceChildren(conf && conf.window && conf.window.length ?
        barChart("Confidence histogram", conf.window.map((v, i) => ({ name: conf.edges ? tick(conf.edges[i]) : String(i), value: v, ref: (conf.reference || [])[i] || 0 })),
          { percent: true, legend: [{ name: "window", cls: "s0" }, { name: "reference", cls: "ref" }] }) :
        el("p", { class: "empty", text: d ? "Drift reference: " + d.reference + (d.reference === "collecting" ? " (" + d.collected + " of " + d.bootstrap + ")" : "") : "Monitoring is off, or this version is not tracked." }));
      document.querySelector("#md-drift .body").replaceChildren(d && d.signals ? el("div", {},
        barChart("Drift PSI", d.signals.map((s) => ({ name: s.signal, value: s.psi })), { ymax: niceMax(Math.max(d.alert * 1.4, ...d.signals.map((s) => s.psi))) }),
        thresholdsNote(d),
        el("table", { id: "md-drift-table" }, el("thead", {}, el("tr", {}, ["Signal", "PSI", "Samples", "Status"].map((x, i) => el("th", { scope: "col", class: i === 1 || i === 2 ? "n" : "", text: x })))),
          el("tbody", {}, d.signals.map((s) => el("tr", {}, el("td", { text: s.signal }), el("td", { class: "n", text: fix(s.psi, 4) }),
            el("td", { class: "n", text: String(s.samples) }), el("td", {}, el("span", { class: "badge " + s.status, text: s.status }))))))) :
        el("p", { class: "empty", text: "No drift figures." }));
      drawThresholds(d);
      const acc = d ? d.accuracy : null;
      document.querySelector("#md-accuracy .body").replaceChildren(acc ? el("dl", { class: "kv" },
        el("dt", { text: "Live accuracy" }), el("dd", { id: "md-acc-live", text: acc.live !== undefined ? pct(acc.live) : "no feedback yet" }),
        el("dt", { text: "Feedback" }), el("dd", { id: "md-acc-feedback", text: acc.feedback + " of " + acc.window }),
        el("dt", { text: "Reference accuracy" }), el("dd", { text: acc.reference !== undefined ? pct(acc.reference) : "unknown" }),
        el("dt", { text: "Tolerance" }), el("dd", { text: pct(acc.tolerance) }),
        el("dt", { text: "Status" }), el("dd", {}, el("span", { class: "badge " + acc.status, text: acc.status }))) :
        el("p", { class: "empty", text: "No accuracy figures." }));
      // Traffic split and shadow verdicts: shown only when the JSON carries them.
      // /stats's traffic map is by model name: the comparison of this version's name.
      const traffic = (m && m.traffic) || (info && info.traffic) ||
        (st.traffic && (st.traffic[id] || st.traffic[id.replace(/-v[0-9]+$/, "")]));
      const tp = document.getElementById("md-traffic");
      tp.hidden = !traffic;
      if (traffic) tp.querySelector(".body").replaceChildren(kvTree(traffic));
    },
  };
  function thresholdsNote(d) {
    return el("p", { class: "meta", text: "warn at PSI " + d.warn + ", alert at " + d.alert + " (dashed lines); window " + d.samples + " of " + d.window + ", reference: " + d.reference });
  }
  function drawThresholds(d) {
    const s = document.querySelector("#md-drift svg"); if (!s || !d) return;
    // the bar chart's scale: recompute from its aria data
    const ymax = niceMax(Math.max(d.alert * 1.4, ...d.signals.map((x) => x.psi)));
    const y = (v) => T + (H - T - B) * (1 - Math.min(v, ymax) / ymax);
    s.append(svg("line", { class: "thr-warn", x1: L, x2: W - R, y1: y(d.warn), y2: y(d.warn) }));
    s.append(svg("line", { class: "thr-alert", x1: L, x2: W - R, y1: y(d.alert), y2: y(d.alert) }));
  }
  function kvTree(v) {
    if (v === null || typeof v !== "object") return document.createTextNode(String(v));
    if (Array.isArray(v)) return el("ul", {}, v.map((x) => el("li", {}, kvTree(x))));
    return el("dl", { class: "kv" }, Object.entries(v).flatMap(([k, x]) => [el("dt", { text: k }), el("dd", {}, kvTree(x))]));
  }

  pages.try = {
    title: "Try it",
    build() {
      const sel = el("input", { id: "try-model", list: "try-models", "aria-label": "Model (id, name or empty for the default)",
        placeholder: "default model", spellcheck: "false", autocomplete: "off" });
      const known = el("datalist", { id: "try-models" });
      const ta = el("textarea", { id: "try-text", "aria-label": "Texts, one per line", placeholder: "Type or paste texts, one per line" });
      const out = el("div", { id: "try-results", "aria-live": "polite" });
      const go = async (ev) => {
        ev.preventDefault();
        const texts = ta.value.split("\n").map((x) => x.trim()).filter(Boolean).slice(0, 100);
        if (!texts.length) { out.replaceChildren(el("p", { class: "msg err", text: "Type a text first." })); return; }
        out.replaceChildren(el("p", { class: "meta", text: "Classifying…" }));
        const results = await Promise.all(texts.map((t) => call("POST", "/predict", { text: t, model_version: sel.value.trim() || undefined, return_probabilities: true, explain: { top_k: 10 } })));
        out.replaceChildren(...results.map((r, i) => result(texts[i], r)));
      };
      return [el("h1", { text: "Try it" }),
        el("form", { class: "try", id: "try-form", onsubmit: go },
          ta, el("div", { class: "row" }, sel, known, el("button", { type: "submit", class: "primary", id: "try-go", text: "Classify" }),
            el("span", { class: "meta", text: "Ctrl+Enter classifies; one text per line, up to 100." }))),
        out];
    },
    update() {
      // Suggestions: the versions /stats knows, and the admin list's when loaded.
      const list = document.getElementById("try-models");
      const all = new Set(ids());
      if (state.models) for (const m of state.models.models) if (m.status === "ready") { all.add(m.id); all.add(m.name); }
      put(list, ...[...all].sort().map((id) => el("option", { value: id })));
    },
  };
  function result(text, r) {
    if (!r.ok) return el("div", { class: "result" }, el("p", { class: "text", text: text }), el("p", { class: "msg err", text: problem(r) }));
    const p = r.data;
    const probs = Object.entries(p.probabilities || {}).sort((a, b) => b[1] - a[1]);
    const spans = explanationSpans(p.explanation);
    return el("div", { class: "result", "data-label": p.label },
      el("p", { class: "text" }, spans && spans.length ? highlight(text, spans) : text),
      el("div", {}, el("span", { class: "label", text: p.label }), " ",
        el("span", { class: "meta", text: "confidence " + fix(p.confidence, 3) + " · " + p.model_version + " · " + fix(p.latency_ms, 2) + " ms" + (p.cached ? " · cached" : "") })),
      probs.length ? el("div", { class: "probs", role: "list", "aria-label": "Probabilities" }, probs.flatMap(([l, v]) => {
        const fill = el("div", { class: "fill" });
        fill.style.width = (100 * v).toFixed(1) + "%";
        return [el("span", { role: "listitem", text: l }), el("div", { class: "track" + (l === p.label ? " best" : "") }, fill), el("span", { class: "n", text: pct(v) })];
      })) : null);
  }
  // explanationSpans flattens an explanation (api.Explanation: contributions,
  // each with the spans of its n-gram in the text as sent, in code points)
  // into [{start, end, weight}]; the strongest of overlapping spans wins.
  function explanationSpans(x) {
    if (!x || !x.contributions) return null;
    const all = x.contributions.flatMap((c) => (c.spans || []).map((s) => ({ start: s.start, end: s.end, weight: c.value })));
    all.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
    const kept = [];
    for (const s of all) if (s.end > s.start && !kept.some((k) => s.start < k.end && k.start < s.end)) kept.push(s);
    return kept;
  }
  // highlight marks spans (code-point offsets [start, end) into the text as
  // sent) by weight: green for the label, red against.
  function highlight(text, spans) {
    const cps = Array.from(text);
    const max = Math.max(1e-9, ...spans.map((s) => Math.abs(s.weight)));
    const frag = document.createDocumentFragment();
    let at = 0;
    for (const s of [...spans].sort((a, b) => a.start - b.start)) {
      if (s.start < at || s.end > cps.length || s.end <= s.start) continue;
      frag.append(cps.slice(at, s.start).join(""));
      const m = el("mark", { class: "xp", title: "contribution " + fix(s.weight, 4), text: cps.slice(s.start, s.end).join("") });
      m.style.backgroundColor = "rgba(var(" + (s.weight >= 0 ? "--pos" : "--neg") + "), " + (0.15 + 0.6 * Math.abs(s.weight) / max).toFixed(2) + ")";
      frag.append(m);
      at = s.end;
    }
    frag.append(cps.slice(at).join(""));
    return frag;
  }

  // ---- data and routing ----
  async function refresh() {
    try {
      const page = state.page;
      // The history changes once per resolution step: ask for it no more
      // often, and only for the versions this page draws.
      const want = page === "model" ? [pages.model.id] : page === "overview" ? [(document.getElementById("lat-model") || {}).value || ""] : null;
      const key = JSON.stringify(want);
      const res = 1000 * ((state.history && state.history.resolution_s) || 0);
      const needHistory = want && (key !== state.historyKey || Date.now() - state.historyAt >= res);
      const hq = want ? want.filter(Boolean).map((id) => "model=" + encodeURIComponent(id)).join("&") : "";
      const [st, h] = await Promise.all([call("GET", "/stats"),
        needHistory ? call("GET", "/ui/history?" + (hq || "model=")) : Promise.resolve(null)]);
      if (!st.ok) throw new Error(problem(st));
      state.stats = st.data;
      if (h && h.ok) { state.history = h.data; state.historyKey = key; state.historyAt = Date.now(); }
      if ((page === "models" || page === "model") && (admin === "open" || (admin === "token" && token()))) {
        const r = await call("GET", "/models", null, true);
        state.models = r.ok ? r.data : null;
        state.modelsErr = r.ok ? "" : problem(r);
      } else {
        state.models = null;
        state.modelsErr = admin === "closed" ? "it answers loopback clients only when no admin token is configured" : "no admin token given";
      }
      if (page === "model") {
        const id = pages.model.id;
        const r = await call("GET", "/models/" + encodeURIComponent(id) + "/drift");
        state.drift[id] = r.ok ? r.data : null;
      }
      live.textContent = "live · updated " + new Date().toTimeString().slice(0, 8);
      live.classList.remove("down");
    } catch (e) {
      live.textContent = "server unreachable: " + e.message;
      live.classList.add("down");
      return;
    }
    // Outside the try: a bug in drawing is an error in the console, not
    // a server that looks down.
    if (state.page && pages[state.page].update) pages[state.page].update();
  }
  function route() {
    const parts = (location.hash || "#/overview").slice(2).split("/");
    let name = parts[0], arg = parts.slice(1).map(decodeURIComponent).join("/");
    if (!pages[name] || (name === "model" && !arg)) name = "overview";
    state.page = name;
    document.querySelectorAll("nav a").forEach((a) => {
      if (a.dataset.page === name || (name === "model" && a.dataset.page === "models")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    document.title = pages[name].title + (arg ? " " + arg : "") + " · mlserve";
    main.replaceChildren(...pages[name].build(arg));
    main.dataset.page = name;
    if (state.stats) pages[name].update();
    refresh();
  }
  if (admin !== "token") document.getElementById("token-form").hidden = true;
  document.getElementById("token").value = token();
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("mlserve-admin-token", document.getElementById("token").value.trim());
    refresh();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem("mlserve-admin-token");
    document.getElementById("token").value = "";
    refresh();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target && ev.target.id === "try-text") {
      ev.preventDefault(); document.getElementById("try-form").requestSubmit();
    }
  });
  window.addEventListener("hashchange", route);
  route();
  state.timer = setInterval(() => { if (!document.hidden) refresh(); }, refreshMS);
})();
