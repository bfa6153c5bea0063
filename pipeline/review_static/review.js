// The review page: renders draft.json, plays the audio under the words, saves the edits back.
// Plain JavaScript, no build step, no network beyond this page's own server.
"use strict";
(() => {
  const audio = document.getElementById("audio");
  const main = document.getElementById("draft");
  const statusBox = document.getElementById("status");
  const saveButton = document.getElementById("save");
  const rateBox = document.getElementById("rate");
  const RATES = [0.75, 1, 1.25, 1.5];
  let storageKey = "";
  let part = -1; // the video whose audio is loaded
  let words = []; // every word element, in page order
  let byPart = []; // per video: {els, starts}, for finding the word at a time
  let flagStarts = []; // the first word of each flagged passage
  let current = null;
  const dirty = new Set(); // ids of paragraphs edited since the last save
  let draftHash = ""; // the draft version this page shows: a save made from an older one is refused (409)
  let saving = false; // a second Ctrl+S while one save is on its way does nothing
  const reloadButton = document.getElementById("reload");
  const keptBox = document.getElementById("kept");

  function say(text, isError = false) {
    statusBox.textContent = text;
    statusBox.classList.toggle("error", isError);
  }

  function span(className, text, title, editable = true) {
    const el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    if (title) el.title = title;
    if (!editable) el.contentEditable = "false"; // a flag mark or a label is kept or deleted whole
    return el;
  }

  function wordElement(item) {
    const el = span(item.f ? "w flagged" : "w", item.w, item.f);
    el.dataset.start = item.s;
    el.dataset.end = item.e;
    return el;
  }

  function markElement(item) {
    const el = span("mark", "[?]", item.reason, false);
    el.dataset.md = item.mark;
    return el;
  }

  function speakerElement(name) {
    const el = span("speaker", name + ":", "click to rename this speaker everywhere", false);
    el.dataset.speaker = name;
    return el;
  }

  function paragraphElement(block) {
    const p = document.createElement("p");
    p.className = "para";
    p.contentEditable = "true";
    p.spellcheck = true;
    p.dataset.id = block.id;
    p.dataset.part = block.part;
    if (block.speaker) p.append(speakerElement(block.speaker), " ");
    block.items.forEach((item, i) => {
      if (i > 0) p.append(" ");
      p.append(item.mark !== undefined ? markElement(item) : wordElement(item));
    });
    return p;
  }

  function blockElement(block) {
    if (block.kind === "paragraph") return paragraphElement(block);
    let el;
    if (block.kind === "heading") {
      el = document.createElement("h" + Math.min(Math.max(block.level, 2), 6));
      if (block.start !== null) el.dataset.start = block.start;
    } else {
      el = document.createElement("p");
      el.className = block.kind; // "note" or "part"
    }
    el.dataset.part = block.part;
    el.textContent = block.text;
    return el;
  }

  function reindex() {
    words = Array.from(main.querySelectorAll(".w"));
    byPart = [];
    words.forEach((el, i) => {
      el.wordIndex = i;
      const p = Number(el.closest("[data-part]").dataset.part);
      (byPart[p] = byPart[p] || { els: [], starts: [] }).els.push(el);
      byPart[p].starts.push(Number(el.dataset.start));
    });
    // A passage starts at a flagged word whose neighbour before it is not a flagged word (a mark, a label, nothing).
    const flaggedWord = (el) => el !== null && el.classList.contains("w") && el.classList.contains("flagged");
    flagStarts = words.filter((el) => flaggedWord(el) && !flaggedWord(el.previousElementSibling));
  }

  function setPart(p) {
    if (p === part) return;
    part = p;
    audio.src = "audio/" + p;
  }

  function wordAt(time) {
    const index = byPart[part];
    if (!index) return null;
    let lo = 0, hi = index.starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (index.starts[mid] <= time + 0.01) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 ? index.els[found] : null;
  }

  function showCurrent(el) {
    if (el === current) return;
    if (current) current.classList.remove("current");
    current = el;
    if (!el) return;
    el.classList.add("current");
    const box = el.getBoundingClientRect();
    const top = document.getElementById("bar").getBoundingClientRect().bottom;
    if (box.top < top || box.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
  }

  function follow() {
    showCurrent(wordAt(audio.currentTime));
    if (!audio.paused) requestAnimationFrame(follow);
  }

  function seekTo(p, time, el) {
    setPart(p);
    audio.currentTime = time;
    if (el) showCurrent(el);
    audio.play().catch(() => say("press play (the browser blocked autoplay)"));
  }

  function jumpToFlag(step) {
    const here = current ? current.wordIndex : -1;
    const candidates = step > 0 ? flagStarts.filter((el) => el.wordIndex > here) : flagStarts.filter((el) => el.wordIndex < here).reverse();
    if (!candidates.length) { say(step > 0 ? "no flag after this point" : "no flag before this point"); return; }
    const el = candidates[0];
    main.querySelectorAll(".at-flag").forEach((x) => x.classList.remove("at-flag"));
    el.classList.add("at-flag");
    say("flag " + (flagStarts.indexOf(el) + 1) + " of " + flagStarts.length + ": " + el.title);
    seekTo(Number(el.closest("[data-part]").dataset.part), Number(el.dataset.start), el);
  }

  function changeRate(step) {
    const i = RATES.indexOf(audio.playbackRate);
    const next = RATES[Math.min(RATES.length - 1, Math.max(0, (i < 0 ? 1 : i) + step))];
    audio.playbackRate = next;
    rateBox.textContent = next.toFixed(2) + "×";
  }

  // ---------------------------------------------------------------- edits: kept in this browser until saved

  function markDirty(p) {
    dirty.add(p.dataset.id);
    p.classList.add("edited");
    saveButton.classList.add("dirty");
  }

  let storeTimer = 0;
  function storeSoon() {
    clearTimeout(storeTimer);
    storeTimer = setTimeout(storeNow, 250);
  }

  function storeNow() {
    clearTimeout(storeTimer);
    const paras = {};
    dirty.forEach((id) => { paras[id] = main.querySelector(`p.para[data-id="${id}"]`).innerHTML; });
    try { localStorage.setItem(storageKey, JSON.stringify({ paras })); } catch (e) { say("cannot keep unsaved edits in this browser: " + e.message, true); }
  }

  function restore() {
    let stored = null;
    try { stored = JSON.parse(localStorage.getItem(storageKey) || "null"); } catch (e) { stored = null; }
    if (!stored || !stored.paras) return;
    let n = 0;
    for (const [id, html] of Object.entries(stored.paras)) {
      const p = main.querySelector(`p.para[data-id="${id}"]`);
      if (!p) continue;
      p.innerHTML = html;
      markDirty(p);
      n += 1;
    }
    if (n) say("restored " + n + " unsaved paragraph" + (n === 1 ? "" : "s") + " from this browser");
  }

  function serialize(node) {
    let out = "";
    for (const n of node.childNodes) {
      if (n.nodeType === Node.TEXT_NODE) out += n.data;
      else if (n.nodeType !== Node.ELEMENT_NODE) continue;
      else if (n.dataset.md !== undefined) out += n.dataset.md;
      else if (n.dataset.speaker !== undefined) out += "**" + n.dataset.speaker + ":**";
      else if (n.tagName === "BR") out += "\n";
      else if (n.tagName === "DIV" || n.tagName === "P") out += "\n" + serialize(n);
      else out += serialize(n);
    }
    return out;
  }

  function renameSpeaker(label) {
    const old = label.dataset.speaker;
    const name = (window.prompt("Rename the speaker \u201c" + old + "\u201d everywhere in this draft to:", old) || "").trim();
    if (!name || name === old || /[*\n:]/.test(name)) return;
    main.querySelectorAll(".speaker").forEach((el) => {
      if (el.dataset.speaker !== old) return;
      el.dataset.speaker = name;
      el.textContent = name + ":";
      markDirty(el.closest("p.para"));
    });
    storeNow();
    say("renamed \u201c" + old + "\u201d to \u201c" + name + "\u201d (not saved yet)");
  }

  async function save() {
    if (saving) return;
    storeNow();
    if (!dirty.size) { say("nothing to save"); return; }
    saving = true;
    try { await send(); } finally { saving = false; }
  }

  async function send() {
    const paragraphs = {};
    dirty.forEach((id) => { paragraphs[id] = serialize(main.querySelector(`p.para[data-id="${id}"]`)); });
    say("saving…");
    let response, answer;
    try {
      response = await fetch("save", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ draftHash, paragraphs }) });
      answer = await response.json();
    } catch (e) {
      say("not saved: the review server is not answering (" + e.message + "); your edits stay in this browser", true);
      return;
    }
    if (!response.ok) {
      const advice = answer.stale
        ? ". Your edits stay on this page; Reload shows the draft as saved, with your edits listed above it to copy back."
        : response.status === 409 ? ". Your edits stay in this browser; restart the review to see the page as it is now." : "";
      say("NOT SAVED: " + answer.error + advice, true);
      reloadButton.hidden = !answer.stale;
      return;
    }
    localStorage.removeItem(storageKey);
    await load();
    say("saved into " + document.body.dataset.page);
  }

  // After a refused save: the saved draft, and this page's unsaved paragraphs kept beside it as text.
  async function reloadKeepingEdits() {
    const list = keptBox.querySelector("ol");
    dirty.forEach((id) => {
      const item = document.createElement("li");
      item.textContent = serialize(main.querySelector(`p.para[data-id="${id}"]`));
      list.append(item);
    });
    keptBox.hidden = !list.children.length;
    reloadButton.hidden = true;
    await load();
    say("reloaded the saved draft; your unsaved edits are listed above it");
  }

  // ---------------------------------------------------------------- events

  main.addEventListener("click", (event) => {
    const label = event.target.closest(".speaker");
    if (label) { renameSpeaker(label); return; }
    const selection = window.getSelection();
    if (selection && !selection.isCollapsed) return; // selecting text to edit, not seeking
    const word = event.target.closest(".w");
    const heading = event.target.closest("[data-start]");
    if (word) seekTo(Number(word.closest("[data-part]").dataset.part), Number(word.dataset.start), word);
    else if (heading && heading.tagName[0] === "H") seekTo(Number(heading.dataset.part), Number(heading.dataset.start), null);
  });

  let indexTimer = 0;
  main.addEventListener("input", (event) => {
    const p = event.target.closest("p.para");
    if (p) markDirty(p);
    storeSoon();
    clearTimeout(indexTimer);
    indexTimer = setTimeout(reindex, 300);
  });

  document.addEventListener("keydown", (event) => {
    const ctrl = event.ctrlKey || event.metaKey;
    let action = null;
    if (event.key === "Escape") action = () => (audio.paused ? audio.play().catch(() => {}) : audio.pause());
    else if (ctrl && event.key.toLowerCase() === "s") action = save;
    else if (ctrl && event.key.toLowerCase() === "b") action = () => { audio.currentTime = Math.max(0, audio.currentTime - 5); };
    else if (ctrl && event.key === ".") action = () => jumpToFlag(1);
    else if (ctrl && event.key === ",") action = () => jumpToFlag(-1);
    else if (ctrl && event.key === "ArrowUp") action = () => changeRate(1);
    else if (ctrl && event.key === "ArrowDown") action = () => changeRate(-1);
    if (!action) return;
    event.preventDefault();
    action();
  }, true);

  saveButton.addEventListener("click", save);
  reloadButton.addEventListener("click", () => reloadKeepingEdits().catch((e) => say("cannot reload: " + e.message, true)));
  audio.addEventListener("play", () => requestAnimationFrame(follow));
  audio.addEventListener("seeked", () => showCurrent(wordAt(audio.currentTime)));
  audio.addEventListener("timeupdate", () => { if (audio.paused) showCurrent(wordAt(audio.currentTime)); });
  audio.addEventListener("error", () => say("the audio cannot be played in this browser", true));

  async function load() {
    const t0 = performance.now();
    const response = await fetch("draft.json", { cache: "no-store" });
    const data = await response.json();
    const t1 = performance.now();
    document.title = "Review: " + data.title;
    document.getElementById("title").textContent = data.title;
    document.body.dataset.page = data.page;
    storageKey = "du-review:" + data.page + ":" + data.draftHash;
    draftHash = data.draftHash;
    const fragment = document.createDocumentFragment();
    data.blocks.forEach((block) => fragment.append(blockElement(block)));
    dirty.clear();
    saveButton.classList.remove("dirty");
    current = null;
    main.replaceChildren(fragment);
    restore();
    reindex();
    setPart(part < 0 ? 0 : part);
    // What the benchmark reports: fetching the draft, and building the page from it.
    window.reviewTimings = { fetchMs: t1 - t0, renderMs: performance.now() - t1 };
    document.body.dataset.ready = "1";
  }

  load().catch((e) => say("cannot load the draft: " + e.message, true));
})();
