() => {
  // The page's side of the app: small relays to the server through hidden buttons, the URL kept
  // in step with the view (deep links), lecture mode, the language switch and copy-link.
  const $ = (selector) => document.querySelector(selector);
  const press = (id) => $(`#${id}`)?.click();

  // 1. The Compare columns run on Run, on Enter in the text box, and 300 ms after the last
  //    keystroke (once per pause, not once per key). Each column has its own relay button: one
  //    Gradio trigger runs its listeners one after another, separate clicks run side by side.
  const settle = () => document.querySelectorAll("[id^='text-settled-']").forEach((button) => button.click());
  let typing = null;
  document.addEventListener("input", (event) => {
    if (!event.target.closest || !event.target.closest("#text")) return;
    clearTimeout(typing);
    typing = setTimeout(settle, 300);
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#run")) settle();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && event.target.closest && event.target.closest("#text")) {
      clearTimeout(typing);
      settle();
    }
  });

  // 2. A click on a tile of the all-heads overview: write "x|y" (the cell's axis labels) into
  //    #overview-pick and click #overview-open, which opens that head.
  const bind = () => {
    document.querySelectorAll("#overview .js-plotly-plot").forEach((plot) => {
      if (plot.__triptychBound || typeof plot.on !== "function") return;
      plot.__triptychBound = true;
      plot.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        const box = $("#overview-pick textarea, #overview-pick input");
        if (!point || !box) return;
        box.value = `${point.x}|${point.y}`;
        box.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => press("overview-open"), 0);
      });
    });
  };
  new MutationObserver(bind).observe(document.body, { childList: true, subtree: true });
  bind();

  // 3. Language: Gradio's i18n follows the browser; a ?lang= link or the buttons switch it.
  const relabelTabs = (lang) => {
    // Gradio translates a tab's label only once the tab has been shown; label the rest here.
    let labels = {};
    try { labels = JSON.parse($("#linked-ids")?.dataset.tabs || "{}"); } catch (err) { labels = {}; }
    for (const [id, names] of Object.entries(labels)) {
      const button = document.getElementById(`${id}-button`);
      if (button && names[lang]) button.textContent = names[lang];
    }
  };
  const setLanguage = async (lang, remember) => {
    const core = performance.getEntriesByType("resource").map((e) => e.name)
      .find((name) => /\/assets\/core-[^/]*\.js$/.test(name));
    if (!core) return;
    try {
      const module = await import(core);
      if (typeof module.changeLocale === "function") module.changeLocale(lang);
      document.documentElement.lang = lang;
      relabelTabs(lang);
      if (remember) localStorage.setItem("triptych-lang", lang);
    } catch (err) {
      console.warn("language switch failed", err);
    }
  };
  const query = new URLSearchParams(location.search);
  const startLang = query.get("lang") || localStorage.getItem("triptych-lang");
  if (startLang) setLanguage(startLang.startsWith("zh") ? "zh" : "en", false);

  // 4. Lecture mode (large type, controls folded away) and the controls switch inside it.
  const setLecture = (on) => document.body.classList.toggle("lecture", on);
  if (query.get("lecture") === "1") setLecture(true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button");
    if (!button) return;
    if (button.id === "lecture-toggle") setLecture(!document.body.classList.contains("lecture"));
    if (button.id === "controls-toggle") document.body.classList.toggle("show-controls");
    if (button.classList.contains("lang-btn")) setLanguage(button.dataset.lang, true);
    if (button.id === "copy-link") {
      const done = () => { button.dataset.copied = "1"; setTimeout(() => delete button.dataset.copied, 1500); };
      (navigator.clipboard ? navigator.clipboard.writeText(location.href) : Promise.reject())
        .then(done, () => window.prompt("Link to this view", location.href));
    }
  });

  // 5. Deep links. The server restores a link's values on load (and a scenario's when picked)
  //    and changes #restored; then the tab is opened, which runs its view with those values.
  const readValue = (root) => {
    const radios = root.querySelectorAll("input[type=radio]");
    if (radios.length) return [...radios].find((r) => r.checked)?.value ?? null;
    const box = root.querySelector("input[type=checkbox]");
    if (box) return box.checked ? "1" : "0";
    const number = root.querySelector("input[type=number]");
    if (number) return number.value;
    const field = root.querySelector("textarea, input");
    return field ? field.value : null;
  };
  const activeTab = () => {
    const button = $("button[role=tab][aria-selected=true]");
    return button ? button.id.replace(/^tab-/, "").replace(/-button$/, "") : "compare";
  };
  let lastRestore = "";
  let lastTab = "";
  // Gradio's own "busy" toast (a full queue) is written in the browser, in English only.
  const translateBusy = () => {
    for (const text of document.querySelectorAll(".toast-text, .toast-message-text")) {
      if (text.textContent.includes("currently busy") && !text.querySelector(".busy-zh")) {
        const zh = document.createElement("div");
        zh.className = "busy-zh";
        zh.textContent = "服务器正忙（排队已满），请稍后再试。";
        text.appendChild(zh);
      }
    }
  };
  const tick = () => {
    translateBusy();
    const restored = $("#restored textarea, #restored input");
    if (restored && restored.value && restored.value !== lastRestore) {
      lastRestore = restored.value;
      let state = {};
      try { state = JSON.parse(restored.value); } catch (err) { state = {}; }
      settle();
      if (state.tab && state.tab !== "compare") press(`tab-${state.tab}-button`);
      if (state.tab === "decoding" && state.step) setTimeout(() => press("dec-goto"), 200);
    }
    const tab = activeTab();
    if (tab !== lastTab) {
      lastTab = tab;
      const box = $("#current-tab textarea, #current-tab input");
      if (box) {
        box.value = tab;
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
    if (!lastRestore) return;  // do not rewrite a link before it has been restored
    let ids = [];
    try { ids = JSON.parse($("#linked-ids")?.dataset.ids || "[]"); } catch (err) { ids = []; }
    const panel = $(`#tab-${tab}`);
    const params = new URLSearchParams();
    params.set("tab", tab);
    for (const id of ids) {
      const element = document.getElementById(id);
      if (!element || (id !== "text" && !(panel && panel.contains(element)))) continue;
      const value = readValue(element);
      if (value !== null && value !== undefined) params.set(id, value);
    }
    const lang = localStorage.getItem("triptych-lang") || query.get("lang");
    if (lang) params.set("lang", lang);
    if (document.body.classList.contains("lecture")) params.set("lecture", "1");
    const next = `${location.pathname}?${params.toString()}`;
    if (next !== `${location.pathname}${location.search}`) history.replaceState(null, "", next);
  };
  setInterval(tick, 400);
}
