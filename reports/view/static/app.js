/* evalkit view: the page. Plain JavaScript, no build step.
 *
 * Everything that comes from a run directory is hostile model text. It reaches the DOM only as text
 * nodes (h() below turns every string child into a text node; no innerHTML, outerHTML,
 * insertAdjacentHTML or document.write anywhere), and math goes through KaTeX with trust: false.
 * Links are built only from "#/..." routes with encoded segments, never from data.
 * Every view has its own URL (location.hash), so a link reopens it.
 */
"use strict";

const MATH_LIMIT = 200000; // longer texts are shown as plain text (typesetting a megabyte would freeze the tab)
const MATH_SEGMENT_LIMIT = 4000;
//: commands KaTeX would refuse anyway under trust: false; their TeX is shown as text instead
const UNTRUSTED = /\\(href|url|includegraphics|htmlClass|htmlId|htmlStyle|htmlData)\b/;
const CELL_NAMES = { both_right: "both right", only_a: "only A right", only_b: "only B right", both_wrong: "both wrong" };

// ----------------------------------------------------------------------------- DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "href") {
      if (!String(value).startsWith("#/")) throw new Error("only internal links are built");
      el.setAttribute("href", value);
    } else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function route(segments, query) {
  const path = "#/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const qs = q.toString();
  return qs ? path + "?" + qs : path;
}

function pct(x) { return x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%"; }
function num(x, digits) { return x === null || x === undefined ? "—" : Number(x).toFixed(digits); }
function plural(n, word) { return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`; }

async function api(endpoint, params) {
  const response = await fetch(`/api/${endpoint}?${new URLSearchParams(params)}`, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function crumbs(...items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  items.forEach((item, i) => {
    if (i) nav.appendChild(h("span", { class: "sep" }, "›"));
    nav.appendChild(item.href ? h("a", { href: item.href }, item.text) : h("span", {}, item.text));
  });
}

// ----------------------------------------------------------------------------- math and long texts

/* Split text into plain and math pieces: $$..$$, \[..\], \(..\), $..$ (pandoc's rule: no space inside the
 * dollars, no digit right after the closing one, so "$5 and $6" stays text) and bare \boxed{..}. */
function mathPieces(text) {
  const pieces = [];
  let plain = "";
  let i = 0;
  const flush = () => { if (plain) pieces.push({ math: false, text: plain }); plain = ""; };
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && text[i + 1] === "$") { plain += "$"; i += 2; continue; }
    let open = null, close = null, display = false;
    if (text.startsWith("$$", i)) { open = "$$"; close = "$$"; display = true; }
    else if (text.startsWith("\\[", i)) { open = "\\["; close = "\\]"; display = true; }
    else if (text.startsWith("\\(", i)) { open = "\\("; close = "\\)"; }
    if (open) {
      const end = text.indexOf(close, i + open.length);
      if (end > i && end - i < MATH_SEGMENT_LIMIT) {
        flush();
        pieces.push({ math: true, display, text: text.slice(i + open.length, end) });
        i = end + close.length;
        continue;
      }
    } else if (c === "$" && text[i + 1] && !/\s/.test(text[i + 1])) {
      let j = i + 1;
      while (j < text.length && j - i < MATH_SEGMENT_LIMIT) {
        if (text[j] === "\\") { j += 2; continue; }
        if (text[j] === "\n" && text[j + 1] === "\n") { j = -1; break; }
        if (text[j] === "$") break;
        j++;
      }
      if (j > i + 1 && j < text.length && text[j] === "$" && !/\s/.test(text[j - 1]) && !/[0-9]/.test(text[j + 1] || "")) {
        flush();
        pieces.push({ math: true, display: false, text: text.slice(i + 1, j) });
        i = j + 1;
        continue;
      }
    } else if (text.startsWith("\\boxed{", i)) {
      let depth = 0, j = i + 6;
      for (; j < text.length && j - i < MATH_SEGMENT_LIMIT; j++) {
        if (text[j] === "\\") { j++; continue; }
        if (text[j] === "{") depth++;
        else if (text[j] === "}" && --depth === 0) break;
      }
      if (depth === 0 && text[j] === "}") {
        flush();
        pieces.push({ math: true, display: false, text: text.slice(i, j + 1) });
        i = j + 1;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
  return pieces;
}

/* KaTeX with trust: false (no \\href, \\url, \\html...); TeX it cannot parse stays as its own text. */
function renderTex(tex, display) {
  const span = h("span", { class: display ? "ev-math ev-display" : "ev-math" });
  if (typeof katex === "undefined" || UNTRUSTED.test(tex)) { span.textContent = tex; return span; }
  try {
    katex.render(tex, span, { displayMode: display, throwOnError: true, trust: false, strict: "ignore",
                              maxSize: 50, maxExpand: 500, output: "htmlAndMathml" });
  } catch (e) {
    span.className = "ev-math-error";
    span.title = "KaTeX cannot typeset this; shown as text";
    span.textContent = tex;
  }
  return span;
}

/* An answer or a gold: the whole text is TeX when it looks like TeX (a backslash, braces, ^ or _). */
function answerMath(text) {
  if (text.length > MATH_SEGMENT_LIMIT || !/[\\^_{}]/.test(text)) return mathText(text);
  return renderTex(text.replace(/^\$+|\$+$/g, ""), false);
}

/* A text with its math typeset, as a DOM fragment (plain pieces are text nodes). */
function mathText(text) {
  const frag = document.createDocumentFragment();
  if (text.length > MATH_LIMIT) { frag.appendChild(document.createTextNode(text)); return frag; }
  for (const piece of mathPieces(text)) {
    frag.appendChild(piece.math ? renderTex(piece.text, piece.display) : document.createTextNode(piece.text));
  }
  return frag;
}

/* A possibly long field: rendered (math) or raw, cut with a "show all" that loads the rest from the server.
 * `field` is {text, length, cut}; `fetchRest(start)` resolves to {text, next}. */
function longText(field, fetchRest, opts) {
  const options = Object.assign({ math: true, code: false, answer: false }, opts || {});
  let full = field.text;
  let complete = !field.cut;
  const wrap = h("div", { class: "longtext" });
  const body = h(options.code ? "pre" : "div", { class: options.code ? "ev-code" : "ev-text" });
  const controls = h("div", { class: "controls" });
  let raw = !options.math;
  const draw = () => {
    body.replaceChildren();
    if (raw || options.code) {
      body.className = options.code ? "ev-code" : options.math ? "ev-raw" : "ev-text";
      body.textContent = full;
    } else {
      body.className = "ev-text";
      body.appendChild(options.answer ? answerMath(full) : mathText(full));
    }
    controls.replaceChildren();
    if (!complete) {
      controls.appendChild(h("button", { class: "showall", type: "button", onclick: showAll },
        `show all (${field.length.toLocaleString()} characters; ${(field.length - full.length).toLocaleString()} more)`));
    }
    if (options.math && (raw || body.querySelector(".katex"))) {
      controls.appendChild(h("button", { class: "linkish toggle-raw", type: "button", onclick: () => { raw = !raw; draw(); } },
        raw ? "rendered" : "raw text"));
    }
  };
  const showAll = async (event) => {
    event.target.disabled = true;
    try {
      let start = full.length;
      while (start !== null) {
        const part = await fetchRest(start);
        full += part.text;
        start = part.next;
      }
      complete = true;
    } catch (e) {
      controls.appendChild(h("span", { class: "ev-error" }, e.message));
    }
    draw();
  };
  draw();
  return append(wrap, [body, controls]);
}

function fieldFetcher(run, bench, problem, index, name) {
  return (start) => api("field", { run, bench, problem, index, name, start });
}

function panel(title, extra, ...children) {
  return h("section", { class: "panel" }, h("div", { class: "head" }, h("span", {}, title), extra || null),
           h("div", { class: "body" }, ...children));
}

function verdictMark(correct) {
  return correct ? h("span", { class: "ok", title: "correct" }, "✓") : h("span", { class: "bad", title: "wrong" }, "✗");
}

function statusBadge(status) {
  return h("span", { class: `badge ${String(status).split(" ")[0]}` }, status);
}

// ----------------------------------------------------------------------------- runs list

async function viewRuns(main) {
  crumbs({ text: "runs" });
  const data = await api("runs", {});
  const evals = data.runs;
  const out = [h("h1", {}, `Runs (${evals.length} evaluation${evals.length === 1 ? "" : "s"}, ${data.training.length} training)`)];
  if (evals.length > 1) out.push(compareForm(evals));
  if (evals.length) out.push(runsTable(evals, data.differing));
  if (data.training.length) out.push(h("h2", {}, "Training runs"), trainingTable(data.training), charts(data.curves, data.training));
  main.replaceChildren(...out);
}

function compareForm(evals) {
  const benches = [...new Set(evals.flatMap((r) => Object.keys(r.results)))];
  const pick = (name, index) => h("select", { name, "aria-label": `run ${name.toUpperCase()}` },
    evals.map((r, i) => h("option", { value: r.id, selected: i === index ? "selected" : null }, `${r.id} (${r.label || r.id})`)));
  const a = pick("a", 0), b = pick("b", 1);
  const bench = h("select", { name: "bench", "aria-label": "benchmark" }, benches.map((x) => h("option", { value: x }, x)));
  const go = (event) => {
    event.preventDefault();
    location.hash = route(["compare", a.value, b.value, bench.value], { cell: "only_b" });
  };
  return h("form", { class: "compareform", onsubmit: go }, h("strong", {}, "Compare"), "A", a, "with B", b, "on", bench,
           h("button", { type: "submit" }, "Compare"));
}

function runsTable(runs, differing) {
  const head = h("tr", {}, ["run", "model", "step", "status", ...differing, "benchmark", "accuracy [95% CI]", "pass@k",
    "maj@k", "truncated", "mean tokens", "date"].map((t) => h("th", {}, t)));
  const rows = [];
  for (const r of runs) {
    const benches = Object.entries(r.results);
    const span = Math.max(1, benches.length);
    const lead = [
      h("td", { rowspan: span }, benches.length ? h("a", { href: route(["run", r.id, benches[0][0]]) }, r.id) : r.id,
        r.notes && r.notes.length ? h("div", { class: "note" }, r.notes.join("; ")) : null,
        r.error ? h("div", { class: "ev-error" }, r.error) : null,
        r.problems_recorded === false ? h("div", { class: "muted" }, "no problems.jsonl: questions and golds not recorded") : null),
      h("td", { rowspan: span }, r.label || "—", r.model && r.model !== r.label ? h("div", { class: "muted" }, r.model) : null),
      h("td", { rowspan: span, class: "num" }, r.step === null || r.step === undefined ? "—" : r.step),
      h("td", { rowspan: span }, statusBadge(r.status)),
      ...differing.map((k) => h("td", { rowspan: span }, (r.settings || {})[k] || "—")),
    ];
    if (!benches.length) { rows.push(h("tr", {}, lead, h("td", { colspan: 6 }, "no samples"), h("td", {}, r.created || ""))); continue; }
    benches.forEach(([bench, m], i) => {
      const ks = Object.keys(m.pass).map(Number);
      const kmax = Math.max(...ks);
      const majKs = Object.keys(m.maj).map(Number);
      const majMax = majKs.length ? Math.max(...majKs) : null;
      const subs = Object.entries(m.subscores).map(([name, v]) => `${name} ${pct(v)}`).join(", ");
      rows.push(h("tr", {}, i === 0 ? lead : [],
        h("td", {}, h("a", { href: route(["run", r.id, bench]) }, bench)),
        h("td", { class: "num" }, `${pct(m.accuracy)} [${num(100 * m.ci[0], 1)}, ${num(100 * m.ci[1], 1)}]`,
          subs ? h("div", { class: "muted" }, subs) : null),
        h("td", { class: "num" }, kmax > 1 ? `pass@${kmax} ${pct(m.pass[String(kmax)])}` : "—"),
        h("td", { class: "num" }, majMax && majMax > 1 ? `maj@${majMax} ${pct(m.maj[String(majMax)])}` : "—"),
        h("td", { class: "num" }, pct(m.truncation)),
        h("td", { class: "num" }, num(m.mean_tokens, 0)),
        i === 0 ? h("td", { rowspan: span }, (r.created || "").slice(0, 16).replace("T", " ")) : []));
    });
  }
  return h("table", { class: "runs" }, h("thead", {}, head), h("tbody", {}, rows));
}

function trainingTable(training) {
  const trend = (t) => (t ? `${num(t[0], 3)} → ${num(t[1], 3)}` : "—");
  return h("table", { class: "training" },
    h("thead", {}, h("tr", {}, ["run", "algo", "model", "benchmark", "steps", "status", "reward", "train accuracy",
      "held-out accuracy", "KL (end)", "clip fraction"].map((t) => h("th", {}, t)))),
    h("tbody", {}, training.map((t, i) => h("tr", {},
      h("td", {}, h("i", { class: `swatch${i % 6}` }), " ", t.id,
        t.notes && t.notes.length ? h("div", { class: "note" }, t.notes.join("; ")) : null,
        t.error ? h("div", { class: "ev-error" }, t.error) : null),
      h("td", {}, t.algo || "—"), h("td", {}, t.model || "—"), h("td", {}, t.benchmark || "—"),
      h("td", { class: "num" }, t.steps_done === undefined ? "—" : `${t.steps_done}${t.steps_planned ? "/" + t.steps_planned : ""}`),
      h("td", {}, statusBadge(t.status)),
      h("td", { class: "num" }, trend(t.trend && t.trend.reward)),
      h("td", { class: "num" }, trend(t.trend && t.trend.accuracy)),
      h("td", { class: "num" }, trend(t.trend && t.trend.heldout)),
      h("td", { class: "num" }, num(t.kl_end, 4)), h("td", { class: "num" }, num(t.clip_mean, 4))))));
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function charts(curves, training) {
  const color = Object.fromEntries(training.map((t, i) => [t.id, i % 6]));
  const legend = h("div", { class: "legend" }, training.map((t) => h("span", {}, h("i", { class: `swatch${color[t.id]}` }), t.id)));
  return h("div", {}, h("h3", {}, "Curves"), legend,
    h("div", { class: "charts" }, curves.map((c) => lineChart(c.title, c.series, color))));
}

function lineChart(title, series, color) {
  const W = 300, H = 170, L = 44, R = 8, T = 8, B = 22;
  const xs = series.flatMap((s) => s.steps), ys = series.flatMap((s) => s.values);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => L + (x1 === x0 ? (W - L - R) / 2 : ((x - x0) / (x1 - x0)) * (W - L - R));
  const sy = (y) => T + (y1 === y0 ? (H - T - B) / 2 : (1 - (y - y0) / (y1 - y0)) * (H - T - B));
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));
  const plot = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title },
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, fmt(y1)),
    svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, fmt(y0)),
    svg("text", { x: L, y: H - 6 }, `step ${x0}`),
    svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, `${x1}`),
    ...series.map((s) => svg("polyline", { class: `line${color[s.run] || 0}`,
      points: s.steps.map((x, i) => `${sx(x).toFixed(1)},${sy(s.values[i]).toFixed(1)}`).join(" ") })));
  return h("figure", { class: "chart" }, h("div", { class: "ev-title" }, title), plot);
}

// ----------------------------------------------------------------------------- samples and problems tables

const VERDICTS = [["all", "all"], ["correct", "correct"], ["wrong", "wrong"], ["no_answer", "no answer"],
                  ["truncated", "truncated"], ["timeout", "timeout"]];

async function viewSamples(main, runId, bench, query) {
  const params = Object.assign({ view: "samples" }, query, { run: runId, bench });
  const data = await api("samples", params);
  crumbs({ text: "runs", href: "#/" }, { text: runId, href: route(["run", runId, bench]) }, { text: bench });
  const go = (changes, keepPage) => {
    const next = Object.assign({}, query, changes);
    if (!keepPage) delete next.page;
    for (const k of Object.keys(next)) if (next[k] === "" || next[k] === null) delete next[k];
    location.hash = route(["run", runId, bench], next);
  };
  const view = data.view;
  const f = data.facets;
  const select = (name, label, options, value) => h("label", {}, label, h("select", { name, "aria-label": label,
    onchange: (e) => go({ [name]: e.target.value }) },
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value || "") ? "selected" : null }, text))));
  const counts = f.verdict_counts;
  const verdictOptions = VERDICTS.map(([v, t]) => [v === "all" ? "" : v, counts[v] !== undefined ? `${t} (${counts[v].toLocaleString()})` : t]);
  const search = h("input", { type: "search", name: "q", value: query.q || "", placeholder: "question, completion, answer", "aria-label": "search" });
  const controls = [
    select("verdict", "verdict", verdictOptions, query.verdict),
    select("reason", "grader reason", [["", "any"], ...f.reasons.map(([k, c]) => [k, `${k} (${c.toLocaleString()})`])], query.reason),
    ...Object.entries(f.labels).map(([key, values]) => select(`label.${key}`, key, [["", "any"], ...values.map(([v, c]) => [v, `${v} (${c})`])], query[`label.${key}`])),
    f.max_sample_index > 0 ? select("sample", "sample index", [["", "any"], ...Array.from({ length: f.max_sample_index + 1 }, (_, i) => [String(i), String(i)])], query.sample) : null,
    h("form", { class: "search", onsubmit: (e) => { e.preventDefault(); go({ q: search.value }); } }, search, h("button", { type: "submit" }, "Search")),
    query.problem ? h("span", { class: "chip" }, `problem ${query.problem} `, h("button", { class: "linkish", type: "button", title: "clear", onclick: () => go({ problem: "" }) }, "✕")) : null,
    select("sort", "sort", (view === "samples" ? [["problem", "problem"], ["sample", "sample index"], ["verdict", "verdict"], ["tokens", "tokens"], ["reason", "reason"]]
      : [["problem", "problem"], ["accuracy", "accuracy"], ["pass", "pass@k"], ["samples", "samples"], ["tokens", "mean tokens"], ["truncated", "truncated"]]), query.sort || "problem"),
    select("order", "order", [["asc", "ascending"], ["desc", "descending"]], query.order || "asc"),
    view === "problems" && f.samples_per_problem > 1 ? select("k", "k", Array.from({ length: f.samples_per_problem }, (_, i) => [String(i + 1), String(i + 1)]), data.k) : null,
  ];
  const tabs = h("div", { class: "tabs" }, data.benchmarks.map((b) => h("a", { href: route(["run", runId, b], { view }), class: b === bench ? "active" : null }, b)));
  const viewTabs = h("div", { class: "tabs" },
    h("a", { href: route(["run", runId, bench], Object.assign({}, query, { view: "samples", page: "", sort: "", k: "" })), class: view === "samples" ? "active" : null }, "samples"),
    h("a", { href: route(["run", runId, bench], Object.assign({}, query, { view: "problems", page: "", sort: "" })), class: view === "problems" ? "active" : null }, "problems"));
  const what = view === "samples" ? "sample" : "problem";
  const summary = h("p", { class: "summary" }, `${plural(data.total, what)} match`,
    view === "samples" ? ` (of ${data.total_samples.toLocaleString()})` : ` (of ${data.total_problems.toLocaleString()})`,
    h("span", { class: "muted" }, ` · ${data.seconds.toFixed(3)} s`));
  const notes = [...(data.notes || []).map((n) => h("p", { class: "note" }, n)),
    data.problems_recorded ? null : h("p", { class: "note" }, "This run has no problems.jsonl (written by evalkit run since the viewer exists): questions, golds and levels are not shown. `evalkit grade` on the run records them.")];
  const table = view === "samples" ? samplesTable(data, runId, bench) : problemsTable(data, runId, bench, go);
  main.replaceChildren(h("h1", {}, `${data.label} · ${bench}`, h("span", { class: "muted" }, ` (${runId})`)), tabs, viewTabs,
    h("div", { class: "filters" }, controls), notes, summary, table, pager(data, (page) => go({ page: String(page) }, true)));
}

function samplesTable(data, runId, bench) {
  const head = h("tr", {}, ["problem", "#", "", "extracted", "gold", "reason", "finish", "tokens", "completion"].map((t) => h("th", {}, t)));
  const rows = data.rows.map((r) => {
    const href = route(["sample", runId, bench, r.problem_id, r.sample_index]);
    return h("tr", { class: "clickable", onclick: (e) => { if (!e.target.closest("a")) location.hash = href; } },
      h("td", {}, h("a", { href }, r.problem_id)), h("td", { class: "num" }, r.sample_index), h("td", {}, verdictMark(r.correct)),
      h("td", { class: "cellmath" }, answerMath(r.extracted || "")), h("td", { class: "cellmath" }, r.gold === null ? "—" : answerMath(r.gold)),
      h("td", {}, r.reason), h("td", {}, r.finish_reason === "length" ? h("span", { class: "note" }, "length") : r.finish_reason),
      h("td", { class: "num" }, r.tokens.toLocaleString()), h("td", { class: "preview" }, r.preview));
  });
  return h("table", { class: "samples" }, h("thead", {}, head), h("tbody", {}, rows));
}

function problemsTable(data, runId, bench, go) {
  const k = data.k;
  const head = h("tr", {}, ["problem", "labels", "question", "gold", "samples", "correct", `pass@${k}`, "majority answer", "mean tokens", "verdicts"].map((t) => h("th", {}, t)));
  const rows = data.rows.map((r) => {
    const m = r.majority;
    const maj = m.answer === null ? h("span", { class: "muted" }, "no answers")
      : h("span", {}, answerMath(m.answer), " ", h("span", { class: "muted" }, `${m.votes}/${r.n}`), " ",
          m.tie ? h("span", { class: "note" }, "tie") : verdictMark(m.correct));
    return h("tr", { class: "clickable", onclick: (e) => { if (!e.target.closest("a")) go({ view: "samples", problem: r.problem_id, sort: "", k: "" }); } },
      h("td", {}, h("a", { href: route(["run", runId, bench], { view: "samples", problem: r.problem_id }) }, r.problem_id)),
      h("td", {}, Object.entries(r.labels).map(([key, v]) => `${key} ${v}`).join(", ")),
      h("td", { class: "cellmath" }, r.question === null ? "—" : mathText(r.question)),
      h("td", { class: "cellmath" }, r.gold === null ? "—" : answerMath(r.gold)),
      h("td", { class: "num" }, r.n), h("td", { class: "num" }, r.correct), h("td", { class: "num" }, pct(r.pass_at_k)),
      h("td", { class: "cellmath" }, maj), h("td", { class: "num" }, num(r.mean_tokens, 0)),
      h("td", { class: "strip" }, r.verdicts.map((v) => h("span", { class: v ? "ev-yes" : "ev-no" }))));
  });
  return h("table", { class: "problems" }, h("thead", {}, head), h("tbody", {}, rows));
}

function pager(data, goPage) {
  const jump = h("input", { type: "number", min: 1, max: data.pages, value: data.page, "aria-label": "page" });
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: data.page <= 1 ? "disabled" : null, onclick: () => goPage(data.page - 1) }, "‹ previous"),
    h("span", {}, `page ${data.page} of ${data.pages}`),
    h("button", { type: "button", disabled: data.page >= data.pages ? "disabled" : null, onclick: () => goPage(data.page + 1) }, "next ›"),
    h("form", { onsubmit: (e) => { e.preventDefault(); goPage(jump.value); } }, jump, h("button", { type: "submit" }, "go")));
}

// ----------------------------------------------------------------------------- one sample

async function viewSample(main, runId, bench, problem, index) {
  const s = await api("sample", { run: runId, bench, problem, index });
  crumbs({ text: "runs", href: "#/" }, { text: runId, href: route(["run", runId, bench]) },
         { text: bench, href: route(["run", runId, bench], { problem }) }, { text: `${problem} #${index}` });
  const more = (name) => fieldFetcher(runId, bench, problem, index, name);
  const siblings = h("div", { class: "siblings" }, "samples of this problem: ", s.siblings.map((x) =>
    h("a", { href: route(["sample", runId, bench, problem, x.sample_index]), class: x.correct ? "ok" : "bad",
             "aria-current": x.sample_index === s.sample_index ? "page" : null }, ` ${x.sample_index}${x.sample_index === s.sample_index ? "•" : ""} `)));
  const parts = [h("h1", {}, `${problem} · sample ${s.sample_index}`, h("span", { class: "muted" }, ` (${s.label}, ${bench})`)), siblings];
  parts.push(verdictPanel(s, more));
  if (s.code) parts.push(codePanel(s));
  parts.push(panel("Problem", null,
    s.question ? longText(s.question, more("question")) : h("p", { class: "muted" }, "The question is not recorded for this run (no problems.jsonl)."),
    Object.keys(s.labels).length ? h("p", { class: "muted" }, Object.entries(s.labels).map(([k, v]) => `${k}: ${v}`).join(" · ")) : null));
  parts.push(promptPanel(s, more));
  parts.push(completionPanel(s, more));
  main.replaceChildren(...parts);
}

function verdictPanel(s, more) {
  const extracted = s.extracted ? longText(s.extracted, more("extracted"), { math: !s.code, code: s.code, answer: true }) : h("span", { class: "muted" }, "no answer found");
  return panel("Verdict", null,
    h("div", { class: "verdict" }, verdictMark(s.correct), s.correct ? " correct" : " wrong"),
    h("div", { class: "versus" },
      h("div", { class: "ev-box extracted" }, h("div", { class: "label" }, s.code ? "code that ran (from the completion)" : "extracted answer"), extracted),
      h("div", { class: "ev-box gold" }, h("div", { class: "label" }, s.code ? "reference solution" : "gold"),
        s.gold ? longText(s.gold, more("gold"), { math: !s.code, code: s.code, answer: true }) : h("span", { class: "muted" }, "not recorded"))),
    h("dl", { class: "kv" },
      h("dt", {}, "grader reason"), h("dd", { class: "reason" }, longText(s.reason, more("reason"), { math: false })),
      h("dt", {}, "finish"), h("dd", {}, s.finish_reason === "length" ? h("span", { class: "note" }, "length (hit the token limit)") : s.finish_reason),
      h("dt", {}, "tokens"), h("dd", {}, String(s.tokens))));
}

function codePanel(s) {
  const rows = s.tests.map((t) => h("tr", {},
    h("td", {}, t.name), h("td", {}, verdictMark(t.passed), t.passed ? " passed" : " failed"),
    h("td", {}, t.passed ? "all inputs passed" : t.failed_input === null ? (t.detail ? "" : "failed (the reason reports the other test set)")
      : `inputs 0–${t.failed_input - 1} passed, input ${t.failed_input} failed, later inputs not run`.replace("inputs 0–-1 passed, ", "")),
    h("td", { class: "ev-text" }, t.detail)));
  return panel("Tests", null,
    h("table", { class: "tests" }, h("thead", {}, h("tr", {}, ["tests", "verdict", "inputs", "sandbox reason"].map((x) => h("th", {}, x)))), h("tbody", {}, rows)),
    h("p", { class: "muted" }, "The judge stops a test set at its first failing input; the run records that input and the reason."));
}

function promptPanel(s, more) {
  if (!s.prompt) return panel("Prompt", null, h("p", { class: "muted" }, "The prompt is not in prompts.jsonl."));
  let raw = false;
  const body = h("div", {});
  const turns = () => s.prompt.turns.map((t, i) => h("div", { class: `turn ${t.role.toLowerCase()}` },
    h("div", { class: "role" }, t.role), longText(t.content, more(`turn.${i}`), { math: true })));
  const draw = () => {
    body.replaceChildren(...(raw ? [longText(s.prompt.raw, more("prompt"), { math: false })]
      : [...turns(), s.prompt.generation_role ? h("div", { class: "muted" }, `(the model answers as ${s.prompt.generation_role})`) : null].filter(Boolean)));
    toggle.textContent = raw ? "turns" : "exact text sent";
  };
  const toggle = h("button", { class: "linkish", type: "button", onclick: () => { raw = !raw; draw(); } });
  draw();
  return panel(`Prompt (${s.prompt.format === "plain" ? "plain text" : s.prompt.format + " chat template"})`, toggle, body);
}

function completionPanel(s, more) {
  if (!s.thinking) return panel("Completion", null, longText(s.completion, more("completion")));
  const t = s.thinking;
  return panel("Completion", null,
    t.before.length ? longText(t.before, more("before")) : null,
    h("details", { class: "think" }, h("summary", {}, `reasoning (<think> block, ${t.thinking.length.toLocaleString()} characters)`),
      longText(t.thinking, more("thinking"))),
    longText(t.answer, more("answer")));
}

// ----------------------------------------------------------------------------- compare two runs

async function viewCompare(main, a, b, bench, query) {
  const cell = query.cell || "only_b";
  const data = await api("compare", { a, b, bench, cell, page: query.page || 1 });
  crumbs({ text: "runs", href: "#/" }, { text: `compare ${a} with ${b}` }, { text: bench });
  const cellLink = (name) => h("a", { class: `cell ${name === cell ? "active" : ""}`, href: route(["compare", a, b, bench], { cell: name }) },
    h("span", { class: "count" }, data.cells[name]), CELL_NAMES[name]);
  const grid = h("div", { class: "cells" },
    h("div", { class: "hdr" }, ""), h("div", { class: "hdr" }, "B right"), h("div", { class: "hdr" }, "B wrong"),
    h("div", { class: "hdr" }, "A right"), cellLink("both_right"), cellLink("only_a"),
    h("div", { class: "hdr" }, "A wrong"), cellLink("only_b"), cellLink("both_wrong"));
  const t = data.test;
  const test = t ? h("p", { class: "test" },
    `B − A = ${(100 * t.diff >= 0 ? "+" : "") + (100 * t.diff).toFixed(1)} points [95% CI ${(100 * t.ci[0]).toFixed(1)}, ${(100 * t.ci[1]).toFixed(1)}], `,
    `p = ${t.p_value < 1e-4 ? "<0.0001" : t.p_value.toFixed(4)} (${t.test}), `,
    h("strong", {}, t.significant ? "significant" : "not significant"),
    ` at 5%; B scores higher on ${t.b_better} and lower on ${t.b_worse} of ${t.n_shared} shared problems (A ${pct(t.a_mean)}, B ${pct(t.b_mean)}).`)
    : h("p", { class: "muted" }, "The runs share no problem.");
  const rows = data.rows.map((r) => {
    const href = route(["pair", a, b, bench, r.problem_id]);
    return h("tr", { class: "clickable", onclick: (e) => { if (!e.target.closest("a")) location.hash = href; } },
      h("td", {}, h("a", { href }, r.problem_id)), h("td", { class: "cellmath" }, r.question === null ? "—" : mathText(r.question)),
      h("td", { class: "cellmath" }, r.gold === null ? "—" : answerMath(r.gold)),
      h("td", { class: "num" }, `${r.a.correct}/${r.a.n}`), h("td", { class: "num" }, `${r.b.correct}/${r.b.n}`));
  });
  const tabs = h("div", { class: "tabs" }, data.benchmarks.map((x) => h("a", { href: route(["compare", a, b, x], { cell }), class: x === bench ? "active" : null }, x)));
  main.replaceChildren(
    h("h1", {}, `A: ${data.a_label} vs B: ${data.b_label}`, h("span", { class: "muted" }, ` (${a} vs ${b})`)), tabs,
    h("p", {}, `${plural(data.n_shared, "shared problem")} on ${bench}. A problem is right in a run when more than half of its samples are correct. `,
      h("a", { href: route(["compare", b, a, bench], { cell }) }, "swap A and B")),
    grid, test, h("h2", {}, `${CELL_NAMES[cell]}: ${plural(data.total, "problem")}`),
    h("table", { class: "cell-problems" }, h("thead", {}, h("tr", {}, ["problem", "question", "gold", "A correct", "B correct"].map((x) => h("th", {}, x)))), h("tbody", {}, rows)),
    pager(data, (page) => { location.hash = route(["compare", a, b, bench], { cell, page }); }));
}

async function viewPair(main, a, b, bench, problem) {
  const [pa, pb] = await Promise.all([api("problem", { run: a, bench, problem }), api("problem", { run: b, bench, problem })]);
  crumbs({ text: "runs", href: "#/" }, { text: `compare ${a} with ${b}`, href: route(["compare", a, b, bench]) }, { text: problem });
  const info = pa.question ? pa : pb;
  const column = (p, name) => h("div", { class: `side side-${name}` }, h("h2", {}, `${name}: ${p.label}`, h("span", { class: "muted" }, ` (${p.run})`)),
    p.samples.map((s) => panel(h("span", {}, verdictMark(s.correct), ` sample ${s.sample_index}`),
      h("a", { href: route(["sample", p.run, bench, problem, s.sample_index]) }, "open"),
      h("dl", { class: "kv" }, h("dt", {}, p.code ? "code" : "extracted"), h("dd", { class: "cellmath" }, s.extracted ? longText(s.extracted, fieldFetcher(p.run, bench, problem, s.sample_index, "extracted"), { math: !p.code, code: p.code, answer: true }) : "no answer"),
        h("dt", {}, "reason"), h("dd", {}, s.reason), h("dt", {}, "finish"), h("dd", {}, `${s.finish_reason}, ${s.tokens} tokens`)),
      h("details", { class: "completion" }, h("summary", {}, "completion"), longText(s.completion, fieldFetcher(p.run, bench, problem, s.sample_index, "completion"))))));
  main.replaceChildren(h("h1", {}, `${problem}`, h("span", { class: "muted" }, ` (${bench})`)),
    panel("Problem", null, info.question ? longText(info.question, fieldFetcher(info.run, bench, problem, info.samples[0].sample_index, "question")) : h("p", { class: "muted" }, "not recorded"),
      h("p", {}, h("strong", {}, "gold: "), info.gold ? answerMath(info.gold.text) : "not recorded")),
    h("div", { class: "pair" }, column(pa, "A"), column(pb, "B")));
}

// ----------------------------------------------------------------------------- router

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?", 2);
  const segments = path ? path.split("/").map((s) => decodeURIComponent(s)) : [];
  return { segments, query: Object.fromEntries(new URLSearchParams(qs || "")) };
}

async function render() {
  const main = document.getElementById("main");
  const { segments, query } = parseHash();
  const [kind, ...rest] = segments;
  try {
    if (!kind || kind === "runs") await viewRuns(main);
    else if (kind === "run" && rest.length === 2) await viewSamples(main, rest[0], rest[1], query);
    else if (kind === "sample" && rest.length === 4) await viewSample(main, ...rest);
    else if (kind === "compare" && rest.length === 3) await viewCompare(main, rest[0], rest[1], rest[2], query);
    else if (kind === "pair" && rest.length === 4) await viewPair(main, ...rest);
    else main.replaceChildren(h("p", { class: "ev-error" }, "This link matches no view. "), h("a", { href: "#/" }, "All runs"));
  } catch (e) {
    main.replaceChildren(h("p", { class: "ev-error" }, e.message), h("a", { href: "#/" }, "All runs"));
  }
  document.title = `evalkit view · ${segments.slice(1).join(" · ") || "runs"}`;
}

window.addEventListener("hashchange", render);
window.addEventListener("DOMContentLoaded", render);
