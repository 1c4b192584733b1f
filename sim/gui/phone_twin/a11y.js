// The page's accessibility tree the way uiautomator reports an Android window: one node per
// rendered element that lies (at least partly) on screen, with its widget class, resource id,
// text, content description, state flags and bounds (CSS pixels, clipped to the viewport and to
// scrolling ancestors). Returns [tree, devicePixelRatio]. A node is
// [cls, id, text, desc, hint, flags, left, top, right, bottom, children]; flags is a string of
// letters: c clickable, l long-clickable, k checkable, K checked, e enabled, f focusable,
// F focused, s scrollable, S selected, p password.
return (function () {
  const W = window.innerWidth, H = window.innerHeight;
  const clean = (s) => (s || "").replace(/\s+/g, " ").trim();
  const TEXT_INPUTS = ["text", "email", "password", "search", "tel", "url", "number"];
  const classOf = (el, scrolls) => {
    const declared = el.getAttribute("data-class");
    if (declared) return declared;
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute("type") || "text").toLowerCase();
    if (tag === "input" && type === "checkbox") return el.getAttribute("role") === "switch" ? "android.widget.Switch" : "android.widget.CheckBox";
    if (tag === "input" && type === "radio") return "android.widget.RadioButton";
    if ((tag === "input" && TEXT_INPUTS.includes(type)) || tag === "textarea") return "android.widget.EditText";
    if (tag === "button") return el.querySelector("img") && !clean(el.innerText) ? "android.widget.ImageButton" : "android.widget.Button";
    if (tag === "img") return "android.widget.ImageView";
    if (scrolls) return "android.widget.ScrollView";
    if (tag === "body") return "android.widget.FrameLayout";
    if (ownText(el)) return "android.widget.TextView";
    return "android.view.ViewGroup";
  };
  const ownText = (el) => {
    let s = "";
    for (const n of el.childNodes) if (n.nodeType === 3) s += n.textContent;
    return clean(s);
  };
  const scrollable = (el) => {
    const st = getComputedStyle(el);
    return (/(auto|scroll)/.test(st.overflowY) && el.scrollHeight > el.clientHeight + 1) ||
           (/(auto|scroll)/.test(st.overflowX) && el.scrollWidth > el.clientWidth + 1);
  };
  const walk = (el, clip) => {
    const st = getComputedStyle(el);
    if (st.display === "none" || st.visibility === "hidden" || el.hasAttribute("data-twin-ignore")) return null;
    const r = el.getBoundingClientRect();
    const box = [Math.max(r.left, clip[0]), Math.max(r.top, clip[1]), Math.min(r.right, clip[2]), Math.min(r.bottom, clip[3])];
    const scrolls = scrollable(el);
    const inner = scrolls || st.overflow !== "visible" ? box : clip;
    const children = [];
    for (const child of el.children) {
      if (["SCRIPT", "STYLE", "TEMPLATE"].includes(child.tagName)) continue;
      const node = walk(child, inner);
      if (node) children.push(node);
    }
    const visible = box[2] > box[0] && box[3] > box[1];
    if (!visible) return children.length ? ["android.view.ViewGroup", "", "", "", "", "e", 0, 0, 0, 0, children] : null;
    const cls = classOf(el, scrolls);
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute("type") || "").toLowerCase();
    const editable = cls.endsWith("EditText");
    const checkable = tag === "input" && (type === "checkbox" || type === "radio") || el.hasAttribute("aria-checked");
    const checked = checkable && (tag === "input" ? el.checked : el.getAttribute("aria-checked") === "true");
    const disabled = el.disabled || el.getAttribute("aria-disabled") === "true" || !!el.closest("[aria-disabled=true]");
    const clickable = !disabled && (tag === "button" || tag === "a" || editable || checkable && el.getAttribute("data-clickable") !== "false" ||
      el.hasAttribute("onclick") || el.hasAttribute("data-clickable") && el.getAttribute("data-clickable") !== "false");
    let text = "";
    if (editable) text = type === "password" ? "\u2022".repeat(el.value.length) : el.value;
    else if (tag === "button" && !children.some((c) => c[2])) text = clean(el.innerText);
    else if (!checkable) text = ownText(el);
    let flags = "";
    if (clickable) flags += "c";
    if (el.hasAttribute("data-long-clickable")) flags += "l";
    if (checkable) flags += "k";
    if (checked) flags += "K";
    if (!disabled) flags += "e";
    if (editable || clickable) flags += "f";
    if (document.activeElement === el && el !== document.body) flags += "F";
    if (scrolls) flags += "s";
    if (el.getAttribute("aria-selected") === "true") flags += "S";
    if (type === "password") flags += "p";
    return [cls, el.getAttribute("data-rid") || el.id || "", text, clean(el.getAttribute("aria-label")), clean(el.getAttribute("placeholder")), flags,
            box[0], box[1], box[2], box[3], children];
  };
  return [walk(document.body, [0, 0, W, H]), window.devicePixelRatio];
})();
