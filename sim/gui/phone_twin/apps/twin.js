// The app runtime every twin page uses. An app calls Twin.define({main, screens, ...}) with one
// render function per screen (activity); the phone twin drives it through window.twinApp:
//   start(data, ui, activity)  data: the app's persistent state; ui: a saved screen stack or null
//   save() -> {data, ui}       activity() -> name       back() -> whether the app handled it
//   open(activity)             open a screen by activity name
// Pages ask the phone for things (launch another app, finish) by pushing to window.twinRequests.
"use strict";
window.twinRequests = [];
// Taps the page handled: a click, or a touch its own handler consumed (preventDefault). The twin
// reads this after a tap; Chromium drops the click of a tap that follows a swipe too closely,
// and the twin then delivers it itself.
window.twinTaps = 0;
document.addEventListener("click", () => { window.twinTaps++; }, true);
window.addEventListener("touchend", (ev) => { if (ev.defaultPrevented) window.twinTaps++; });
const Twin = (() => {
  let app = null, data = null, stack = [];
  const h = (tag, attrs, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "checked") el.checked = !!v;
      else if (k === "value") el.value = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
    return el;
  };
  const render = () => {
    const [name, params] = stack[stack.length - 1];
    const screen = app.screens[name];
    document.body.replaceChildren(...[screen(data, params || {})].flat());
    document.title = name;
  };
  const api = {
    h,
    get data() { return data; },
    define(spec) { app = spec; },
    render,
    go(name, params) { stack.push([name, params || {}]); render(); },
    up() { if (stack.length > 1) { stack.pop(); render(); } else window.twinRequests.push({ finish: true }); },
    request(r) { window.twinRequests.push(r); },
    header(title, withUp) {
      return h("header", {}, withUp ? h("button", { class: "up", id: "navigate_up", "aria-label": "Navigate up", onclick: () => api.up() }) : null,
        h("h1", { id: "title" }, title));
    },
    // A press that calls onLong after 500 ms held (touch or mouse), onTap otherwise.
    pressable(el, onTap, onLong) {
      let t0 = 0;
      const down = () => { t0 = Date.now(); };
      const up = (ev) => { if (!t0) return; const long = Date.now() - t0 >= 500; t0 = 0; ev.preventDefault(); (long ? onLong : onTap)(); };
      el.addEventListener("touchstart", down, { passive: true });
      el.addEventListener("touchend", up);
      el.addEventListener("mousedown", down);
      el.addEventListener("mouseup", up);
      el.addEventListener("touchmove", () => { t0 = 0; }, { passive: true });
      el.setAttribute("data-clickable", "");
      el.setAttribute("data-long-clickable", "");
      return el;
    },
  };
  window.twinApp = {
    start(d, ui, activity) {
      data = d;
      stack = ui && ui.length ? ui : [[app.main, {}]];
      if (activity && activity !== stack[stack.length - 1][0]) {
        if (!app.screens[activity]) throw new Error("no activity " + activity);
        stack = activity === app.main ? [[app.main, {}]] : [[app.main, {}], [activity, {}]];
      }
      render();
    },
    save() { return { data, ui: stack }; },
    activity() { return stack[stack.length - 1][0]; },
    activities() { return Object.keys(app.screens); },
    back() { if (stack.length > 1) { stack.pop(); render(); return true; } return false; },
    open(activity) { if (!app.screens[activity]) throw new Error("no activity " + activity); api.go(activity); },
  };
  return api;
})();
