// Replay page: hover-scrubbing with the thumbnail sprite, and live progress while processing.
// No inline scripts (the CSP forbids them): everything hangs off data- attributes.
(function () {
  "use strict";

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(s).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function setUpScrub(root) {
    var video = document.getElementById("player");
    var bar = document.getElementById("scrub");
    var fill = document.getElementById("scrub-fill");
    var thumb = document.getElementById("scrub-thumb");
    var label = document.getElementById("scrub-time");
    var sprite = null;

    function loadSprite() {
      fetch(root.dataset.spriteIndex, { credentials: "omit" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (index) { sprite = index; })
        .catch(function () { sprite = null; });
    }

    // The video plays as soon as it is stored; its poster and sprite are made just after
    // (workers/media.py). Until they are, ask the status now and then, and show them when
    // they arrive, without reloading a video that may be playing.
    function waitForPictures(triesLeft) {
      if (triesLeft <= 0) { return; }
      window.setTimeout(function () {
        fetch(root.dataset.status, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (status) {
            if (!status.pictures) { waitForPictures(triesLeft - 1); return; }
            if (!video.getAttribute("poster")) { video.setAttribute("poster", root.dataset.poster); }
            root.dataset.pictures = "ready";
            loadSprite();
          })
          .catch(function () { waitForPictures(triesLeft - 1); });
      }, 2000);
    }

    if (root.dataset.pictures === "ready") { loadSprite(); } else { waitForPictures(60); }

    function duration() { return video.duration || Number(bar.getAttribute("aria-valuemax")) || 0; }

    function timeAt(event) {
      var rect = bar.getBoundingClientRect();
      var x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
      return { t: rect.width ? (x / rect.width) * duration() : 0, x: x };
    }

    function frameFor(t) {
      if (!sprite || !sprite.thumbnails || !sprite.thumbnails.length) { return null; }
      var best = sprite.thumbnails[0];
      for (var i = 0; i < sprite.thumbnails.length; i++) {
        if (sprite.thumbnails[i].time <= t) { best = sprite.thumbnails[i]; } else { break; }
      }
      return best;
    }

    bar.addEventListener("mousemove", function (event) {
      var at = timeAt(event);
      var frame = frameFor(at.t);
      thumb.hidden = false;
      thumb.style.left = at.x + "px";
      label.textContent = clock(at.t);
      if (frame) {
        thumb.style.width = frame.w + "px";
        thumb.style.height = frame.h + "px";
        thumb.style.backgroundImage = "url(" + root.dataset.sprite + ")";
        thumb.style.backgroundPosition = (-frame.x) + "px " + (-frame.y) + "px";
      }
    });
    bar.addEventListener("mouseleave", function () { thumb.hidden = true; });
    bar.addEventListener("click", function (event) { video.currentTime = timeAt(event).t; });
    bar.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight") { video.currentTime = Math.min(duration(), video.currentTime + 5); }
      if (event.key === "ArrowLeft") { video.currentTime = Math.max(0, video.currentTime - 5); }
    });
    video.addEventListener("timeupdate", function () {
      var d = duration();
      fill.style.width = (d ? (video.currentTime / d) * 100 : 0) + "%";
      bar.setAttribute("aria-valuenow", String(Math.floor(video.currentTime)));
    });
  }

  function pollProgress(panel) {
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    function tick() {
      fetch(panel.dataset.status, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (status) {
          if (status.state === "ready" || status.state === "failed") { window.location.reload(); return; }
          if (status.progress && typeof status.progress.fraction === "number" && bar) {
            bar.value = status.progress.fraction;
            text.textContent = Math.round(status.progress.fraction * 100) + "%";
          }
          window.setTimeout(tick, 1500);
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    if (bar) { tick(); }
  }

  var root = document.getElementById("replay");
  if (root) { setUpScrub(root); }
  var panel = document.getElementById("processing");
  if (panel) { pollProgress(panel); }
}());

// Transcript beside the video: the spoken word is highlighted as it plays; clicking a word, a
// question or a key moment seeks the video; the search box marks matching words.
(function () {
  "use strict";
  var video = document.getElementById("player");
  var body = document.getElementById("transcript-body");
  if (!video) { return; }

  // ?t=SECONDS (a talent pool hit's link): start there once the video knows its length.
  if (video.dataset.startAt) {
    var startAt = Number(video.dataset.startAt);
    var seekStart = function () { video.currentTime = startAt; };
    if (video.readyState >= 1) { seekStart(); } else { video.addEventListener("loadedmetadata", seekStart, { once: true }); }
  }

  document.querySelectorAll(".marker[data-at]").forEach(function (marker) {
    marker.style.left = marker.dataset.at + "%";
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-seek]");
    if (!target) { return; }
    event.preventDefault();
    event.stopPropagation();
    video.currentTime = Number(target.dataset.seek);
    if (video.paused) { video.play().catch(function () {}); }
  }, true);

  if (!body) { return; }
  var words = Array.prototype.slice.call(body.querySelectorAll(".w"));
  var starts = words.map(function (w) { return Number(w.dataset.start); });
  var current = null;

  words.forEach(function (w) { w.setAttribute("data-seek", w.dataset.start); w.setAttribute("tabindex", "0"); });

  function wordAt(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found >= 0 && t <= Number(words[found].dataset.end) + 0.3 ? words[found] : null;
  }

  video.addEventListener("timeupdate", function () {
    var w = wordAt(video.currentTime);
    if (w === current) { return; }
    if (current) { current.classList.remove("now"); }
    current = w;
    if (w) {
      w.classList.add("now");
      var box = body.getBoundingClientRect(), at = w.getBoundingClientRect();
      if (at.top < box.top || at.bottom > box.bottom) { w.scrollIntoView({ block: "center", behavior: "smooth" }); }
    }
  });

  var search = document.getElementById("transcript-search");
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      var first = null;
      words.forEach(function (w) {
        var hit = q.length > 0 && w.textContent.toLowerCase().indexOf(q) >= 0;
        w.classList.toggle("hit", hit);
        if (hit && !first) { first = w; }
      });
      if (first) { first.scrollIntoView({ block: "center" }); }
    });
  }
}());

// Playback quality as the viewer experiences it, reported to the server for monitoring
// (monitoring/views.py): once per page, "started" with the time from pressing play to the first
// frame playing, or "failed" if the media errored before it ever played; later errors as "error".
(function () {
  "use strict";
  var root = document.getElementById("replay");
  var video = document.getElementById("player");
  if (!root || !video || !root.dataset.beacon) { return; }
  var asked = null, outcome = null;

  function send(body) {
    body.token = root.dataset.token;
    var text = JSON.stringify(body);
    if (navigator.sendBeacon && navigator.sendBeacon(root.dataset.beacon, new Blob([text], { type: "application/json" }))) { return; }
    fetch(root.dataset.beacon, { method: "POST", body: text, credentials: "same-origin", keepalive: true,
                                 headers: { "Content-Type": "application/json" } }).catch(function () {});
  }

  video.addEventListener("play", function () { if (asked === null) { asked = performance.now(); } });
  video.addEventListener("playing", function () {
    if (outcome || asked === null) { return; }
    outcome = "started";
    send({ event: "started", startup_seconds: Math.max(0, (performance.now() - asked) / 1000) });
  });
  video.addEventListener("error", function () {
    var code = video.error && typeof video.error.code === "number" ? video.error.code : 0;
    if (!outcome) { outcome = "failed"; send({ event: "failed", code: code }); return; }
    send({ event: "error", code: code });
  });
}());

// Reviewers' comment form: choosing "a moment" fills the moment with where the video is.
(function () {
  "use strict";
  var video = document.getElementById("player");
  var about = document.getElementById("comment-about");
  var start = document.getElementById("comment-start");
  if (!video || !about || !start) { return; }
  function fill() {
    if (about.value === "moment" && start.value === "") { start.value = (Math.round(video.currentTime * 10) / 10).toFixed(1); }
  }
  about.addEventListener("change", fill);
  document.getElementById("comment-form").addEventListener("submit", fill);
}());
