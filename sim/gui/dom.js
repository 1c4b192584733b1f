// Visible UI elements of the page (or of the element matching rootSelector), in one asynchronous call once the page
// has settled. Returns [elements, devicePixelRatio, settled, waitedMs].
// Each element: [id, role, text, left, top, right, bottom, clickable, editable, checked, selected, description,
// range] (range: a slider's [min, max, step], step 0 when any value goes; else null)
// in CSS pixels of the viewport. Ids ("e12") are stable for the life of the page: a WeakMap
// remembers the number given to each DOM node the first time it was seen.
const read = function (maxElements, rootSelector, excludeSelector) {
  const st = window.__embodied || (window.__embodied = { next: 0, ids: new WeakMap() });
  const idOf = (node) => {
    let v = st.ids.get(node);
    if (v === undefined) { v = st.next++; st.ids.set(node, v); }
    return "e" + v;
  };
  const W = window.innerWidth, H = window.innerHeight;
  const INTERACTIVE = "a[href], button, input:not([type=hidden]), select, textarea, summary, [onclick], " +
    "[contenteditable=''], [contenteditable=true], [role=button], [role=link], [role=checkbox], [role=radio], " +
    "[role=tab], [role=menuitem], [role=switch], [role=option], [role=textbox], [role=combobox], [role=slider], " +
    "[tabindex]:not([tabindex='-1'])";
  const clean = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, 300);
  const onScreen = (r) => r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < W && r.top < H;
  const visible = (el) => !el.checkVisibility || el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const shows = (el, x, y) => {
    const hit = document.elementFromPoint(Math.min(Math.max(x, 0), W - 1), Math.min(Math.max(y, 0), H - 1));
    return !hit || hit === el || el.contains(hit) || hit.contains(el) ||
      (hit.tagName === "LABEL" && hit.control === el) || (el.labels && [...el.labels].some((l) => l.contains(hit)));
  };
  const unoccluded = (el, r) => shows(el, r.left + r.width / 2, r.top + r.height / 2);
  // A control partly covered by another: the visible ninth of it (so a tap at its centre lands on it), or null.
  const visiblePart = (el, r) => {
    const w = r.width / 3, h = r.height / 3;
    for (const [i, j] of [[0, 0], [2, 0], [0, 2], [2, 2], [1, 0], [0, 1], [2, 1], [1, 2]]) {
      const left = r.left + i * w, top = r.top + j * h;
      if (shows(el, left + w / 2, top + h / 2)) return { left, top, right: left + w, bottom: top + h };
    }
    return null;
  };
  const labelOf = (el) => {
    if (el.labels && el.labels.length) return clean([...el.labels].map((l) => l.innerText).join(" "));
    const by = el.getAttribute("aria-labelledby");
    if (by) return clean(by.split(/\s+/).map((i) => (document.getElementById(i) || {}).innerText || "").join(" "));
    return "";
  };
  const roleOf = (el) => {
    const aria = el.getAttribute("role");
    if (aria) return { menuitemcheckbox: "checkbox", menuitemradio: "radio", searchbox: "search" }[aria] || aria;
    const tag = el.tagName.toLowerCase();
    if (tag === "a") return "link";
    if (tag === "button" || tag === "summary") return "button";
    if (tag === "select") return "select";
    if (tag === "textarea") return "textarea";
    if (tag === "option") return "option";
    if (tag === "input") {
      const t = (el.getAttribute("type") || "text").toLowerCase();
      if (["button", "submit", "reset", "image"].includes(t)) return "button";
      if (t === "checkbox") return "checkbox";
      if (t === "radio") return "radio";
      if (t === "password") return "password";
      if (t === "range") return "slider";
      if (t === "search") return "search";
      return "textbox";
    }
    if (el.isContentEditable) return "textbox";
    return "button";  // something clickable without a more specific role
  };
  const root = (rootSelector && document.querySelector(rootSelector)) || document.body || document.documentElement;
  // Regions that are never targets (a task's own instruction, a score panel): nothing inside them is listed.
  const excluded = excludeSelector ? [...document.querySelectorAll(excludeSelector)] : [];
  const outside = (el) => !excluded.some((x) => x.contains(el));
  const out = [];
  const taken = new Set();
  for (const el of root.querySelectorAll(INTERACTIVE)) {
    if (out.length >= maxElements) break;
    let r = el.getBoundingClientRect();
    if (!onScreen(r) || !visible(el) || !outside(el)) continue;
    if (!unoccluded(el, r)) {
      r = visiblePart(el, r);
      if (!r) continue;
    }
    const role = roleOf(el);
    const editable = ["textbox", "password", "search", "textarea"].includes(role) && !el.disabled && !el.readOnly;
    let text;
    let range = null;  // a slider's [min, max, step]; its text is then its value
    if (role === "slider") {
      const num = (v, d) => (v === null || v === "" || isNaN(Number(v)) ? d : Number(v));
      if (el.tagName === "INPUT") {
        range = [num(el.min, 0), num(el.max, 100), el.step === "any" ? 0 : num(el.step, 1)];
        text = el.value;
      } else {
        range = [num(el.getAttribute("aria-valuemin"), 0), num(el.getAttribute("aria-valuemax"), 100), 0];
        text = clean(el.getAttribute("aria-valuenow") || "");
      }
    } else if (role === "password") text = el.value ? "***" : "";  // whether it is filled, never the value
    else if (el.tagName === "SELECT") text = clean(el.selectedOptions.length ? el.selectedOptions[0].text : "");
    else if (el.tagName === "INPUT" && ["checkbox", "radio"].includes(role)) text = labelOf(el);
    else if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") text = clean(el.value);
    else text = clean(el.innerText || el.value || "");
    const description = clean(el.getAttribute("aria-label") || (role === "checkbox" || role === "radio" ? "" : labelOf(el)) ||
      el.getAttribute("placeholder") || el.getAttribute("title") || el.getAttribute("alt") || el.getAttribute("name") || "");
    let checked = null;
    if (role === "checkbox" || role === "radio" || role === "switch") {
      checked = "checked" in el && el.tagName === "INPUT" ? el.checked : el.getAttribute("aria-checked") === "true";
    }
    let selected = null;
    if (el.tagName === "OPTION") selected = el.selected;
    else if (el.hasAttribute("aria-selected")) selected = el.getAttribute("aria-selected") === "true";
    out.push([idOf(el), role, text, r.left, r.top, r.right, r.bottom, !el.disabled, editable, checked, selected, description,
              range]);
    taken.add(el);
  }
  // Text blocks: each visible text node not inside an element listed above.
  const inTaken = (el) => { for (let p = el; p; p = p.parentElement) if (taken.has(p)) return true; return false; };
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node && out.length < maxElements; node = walker.nextNode()) {
    const text = clean(node.nodeValue);
    const parent = node.parentElement;
    if (!text || !parent || ["SCRIPT", "STYLE", "NOSCRIPT", "OPTION", "TITLE"].includes(parent.tagName)) continue;
    if (inTaken(parent) || !visible(parent) || !outside(parent)) continue;
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (!onScreen(r) || !unoccluded(parent, r)) continue;
    const clickable = window.getComputedStyle(parent).cursor === "pointer";
    const role = parent.tagName === "LABEL" ? "label" : /^H[1-6]$/.test(parent.tagName) ? "heading" : "text";
    out.push([idOf(node), role, text, r.left, r.top, r.right, r.bottom, clickable, false, null, null, "", null]);
  }
  return [out, window.devicePixelRatio || 1];
};
// Settling: wait (asynchronously: the page keeps running) until the page has stopped reacting: no DOM mutation,
// input event or running animation for quietMs, and no timer of at most timerHorizonMs still pending that the
// agent's input set off (a step of a script-driven animation; with a long horizon, a debounced search); then read
// once. At most maxWaitMs.
const [maxElements, rootSelector, excludeSelector, quietMs, maxWaitMs, reduceMotion, timerHorizonMs, done] = arguments;
if (reduceMotion) {
  // As UI tests do on phones (animation scale 0): effects finish at once, so the page settles at once.
  if (window.jQuery && window.jQuery.fx) window.jQuery.fx.off = true;
  if (!document.getElementById("__embodied_still")) {
    const style = document.createElement("style");
    style.id = "__embodied_still";
    style.textContent = "*, *::before, *::after { transition-duration: 0s !important; animation-duration: 0s !important; " +
      "transition-delay: 0s !important; animation-delay: 0s !important; scroll-behavior: auto !important; }";
    (document.head || document.documentElement).appendChild(style);
  }
}
// Kept apart from the element ids (which a new MiniWoB episode resets): one watcher per page.
const st = window.__embodiedSettle || (window.__embodiedSettle = {});
if (!st.watch) {
  st.lastChange = 0;
  st.pending = new Map();  // timer id -> [when it is due, its delay]: timers the page set in reaction to input
  st.frames = new Map();  // animation frame id -> when requested, in reaction to input
  const touch = () => { st.lastChange = performance.now(); };
  st.watch = new MutationObserver(touch);
  st.watch.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
  const INPUT = ["pointerdown", "pointerup", "mousedown", "mouseup", "click", "keydown", "keypress", "keyup", "input",
                 "change", "touchstart", "touchend"];
  for (const kind of INPUT) window.addEventListener(kind, touch, true);
  // Work the page set off in reaction to the agent's input: a timer or animation frame requested while the page
  // handles a real input event, or by the callback of one that counts (a chain of animation steps), for at most
  // CHAIN_MS after the input (a loop that never ends is not waited for); timers the page runs on its own do not count.
  const CHAIN_MS = 2000;
  const inputKinds = new Set(INPUT);
  const nativeSet = window.setTimeout, nativeClear = window.clearTimeout;
  const nativeFrame = window.requestAnimationFrame, nativeCancelFrame = window.cancelAnimationFrame;
  let chain = null;  // when the input that started the running callback's chain happened
  const origin = () => {
    if (chain !== null) return performance.now() - chain <= CHAIN_MS ? chain : null;
    const ev = window.event;
    return ev && ev.isTrusted && inputKinds.has(ev.type) ? performance.now() : null;
  };
  const inChain = (start, fn) => function (...args) {
    const outer = chain;
    chain = start;
    try { return fn.apply(this, args); } finally { chain = outer; touch(); }
  };
  window.setTimeout = function (fn, delay, ...rest) {
    const ms = Math.max(0, Number(delay) || 0);
    const start = origin();
    if (start === null || ms > 10000 || typeof fn !== "function") return nativeSet.apply(window, arguments);
    const run = inChain(start, fn);
    const id = nativeSet.call(window, function () { st.pending.delete(id); return run.apply(this, rest); }, ms);
    st.pending.set(id, [performance.now() + ms, ms]);
    return id;
  };
  window.clearTimeout = function (id) { st.pending.delete(id); return nativeClear.call(window, id); };
  if (nativeFrame) {
    window.requestAnimationFrame = function (fn) {
      const start = origin();
      if (start === null || typeof fn !== "function") return nativeFrame.call(window, fn);
      const run = inChain(start, fn);
      const id = nativeFrame.call(window, function (t) { st.frames.delete(id); return run.call(this, t); });
      st.frames.set(id, performance.now());
      return id;
    };
    window.cancelAnimationFrame = function (id) { st.frames.delete(id); return nativeCancelFrame.call(window, id); };
  }
}
const t0 = performance.now();
const animating = () => document.getAnimations && document.getAnimations().some((a) => a.playState === "running" &&
  a.effect && a.effect.getTiming && a.effect.getTiming().iterations !== Infinity);
const attempt = () => {
  const now = performance.now();
  let due = 0;  // the last pending reaction timer's due time
  for (const [id, [when, delay]] of st.pending) {
    if (when < now - 1000) st.pending.delete(id);  // long overdue: a page that replaced setTimeout, or a lost id
    else if (delay <= timerHorizonMs) due = Math.max(due, when);
  }
  for (const [id, when] of st.frames) if (when < now - 1000) st.frames.delete(id);  // a frame that never came (hidden)
  const quiet = now - st.lastChange >= quietMs && due === 0 && st.frames.size === 0 && !animating();
  if (quiet || now - t0 >= maxWaitMs) {
    const [rows, dpr] = read(maxElements, rootSelector, excludeSelector);
    done([rows, dpr, quiet, Math.round(now - t0)]);
  } else {
    const wait = due > now ? due - now + 1 : quietMs - (now - st.lastChange);
    setTimeout(attempt, Math.max(4, Math.min(wait, 20)));
  }
};
attempt();
