// TalentReel's browser upload: a small tus 1.0.0 client (creation, core), no dependencies.
//
// The file goes up in chunks; after a dropped connection the client waits, asks the server
// (HEAD) how many bytes it holds and carries on from there, so a recording of several GB
// survives flaky networks. The upload's URL is remembered in localStorage, so reopening the page
// and choosing the same file resumes too. Loaded as a module (<script type="module">): the page's
// Content-Security-Policy allows scripts from this site only, and no inline code.
//
// Two ways to use it:
//   import { uploadRecording } from ".../upload.js";
//   const { recordingId } = await uploadRecording(file, { endpoint: "/uploads/", csrfToken,
//                                                          metadata: { candidate_id: "7" } });
// or markup only: a <form data-upload-endpoint="/uploads/"> holding an <input type="file">, the
// hidden csrf_token and candidate_id (optionally interview_id) inputs, a <progress> and an element
// with data-upload-status; texts come from data-msg-* attributes (translated by the server), and
// data-upload-done="/recordings/{id}" says where to go afterwards.

const TUS_VERSION = "1.0.0";
const OFFSET_STREAM = "application/offset+octet-stream";
const RECORDING_HEADER = "Talentreel-Recording-Id";
const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
// Waits before successive retries (ms). A success resets the count; running out gives up.
const DEFAULT_RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 15000, 30000, 30000, 60000, 60000];
// Statuses worth retrying: nothing reached the server, another request still holds the upload,
// or the server (or a proxy) failed for a moment. 409 means our offset is stale: ask and go on.
const RETRY_STATUSES = new Set([0, 409, 423, 429, 500, 502, 503, 504]);
const STORAGE_PREFIX = "talentreel-upload:";

export class UploadError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "UploadError";
    this.status = status;
  }
}

export async function uploadRecording(file, options) {
  const opts = {
    endpoint: "/uploads/",
    csrfToken: null,
    metadata: {},
    chunkSize: DEFAULT_CHUNK_BYTES,
    retryDelays: DEFAULT_RETRY_DELAYS,
    onProgress: () => {},
    onRetry: () => {},
    signal: null,
    remember: true,
    ...options,
  };
  const endpoint = new URL(opts.endpoint, document.baseURI).href;
  const key = fingerprint(file, endpoint, opts.metadata);
  const session = new Session(opts);

  let url = opts.remember ? recall(key) : null;
  let offset = null;
  if (url) {
    offset = await session.retrying(() => currentOffset(session, url), { allowGone: true });
    if (offset === null) {
      forget(key);
      url = null;
    }
  }
  if (!url) {
    url = await session.retrying(() => create(session, endpoint, file, opts.metadata));
    offset = 0;
    if (opts.remember) remember(key, url);
  }
  opts.onProgress(offset, file.size);

  let recordingId = null;
  while (recordingId === null) {
    const start = offset;
    const result = await session.retrying(async (attempt) => {
      // After a failure the server knows better than we do where the upload stands.
      const from = attempt === 0 ? start : await currentOffset(session, url);
      if (from === null) throw new UploadError("The upload is no longer on the server; start it again.", 410);
      const chunk = file.slice(from, Math.min(from + opts.chunkSize, file.size));
      return append(session, url, from, chunk, (sent) => opts.onProgress(from + sent, file.size));
    });
    offset = result.offset;
    recordingId = result.recordingId;
    opts.onProgress(offset, file.size);
  }
  forget(key);
  return { recordingId, uploadUrl: url };
}

export async function cancelUpload(url, { csrfToken = null } = {}) {
  const session = new Session({ csrfToken, retryDelays: [], signal: null, onRetry: () => {} });
  const response = await session.send("DELETE", url, {});
  if (response.status !== 204 && response.status !== 404) throw errorFrom(response);
}

// --- protocol steps ------------------------------------------------------------------------

async function create(session, endpoint, file, metadata) {
  const meta = { filename: file.name, filetype: file.type, ...metadata };
  const response = await session.send("POST", endpoint, {
    "Upload-Length": String(file.size),
    "Upload-Metadata": Object.entries(meta)
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([name, value]) => `${name} ${base64(String(value))}`)
      .join(","),
  });
  if (response.status !== 201) throw errorFrom(response);
  return new URL(response.header("Location"), endpoint).href;
}

// The server's offset, or null when the upload is gone (expired or terminated).
async function currentOffset(session, url) {
  const response = await session.send("HEAD", url, {});
  if ([403, 404, 410].includes(response.status)) return null;
  if (response.status === 422) {
    // The file was refused; HEAD has no body, GET carries the reason.
    throw errorFrom(await session.send("GET", url, {}));
  }
  if (response.status !== 200) throw errorFrom(response);
  return Number(response.header("Upload-Offset"));
}

async function append(session, url, offset, chunk, onSent) {
  const response = await session.send("PATCH", url, {
    "Upload-Offset": String(offset),
    "Content-Type": OFFSET_STREAM,
  }, chunk, onSent);
  if (response.status !== 204) throw errorFrom(response);
  const id = response.header(RECORDING_HEADER);
  return { offset: Number(response.header("Upload-Offset")), recordingId: id ? Number(id) : null };
}

// --- transport and retries -----------------------------------------------------------------

class Session {
  constructor(opts) {
    this.opts = opts;
  }

  // Run step(attempt) until it succeeds, waiting between attempts on retryable failures.
  async retrying(step, { allowGone = false } = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step(attempt);
      } catch (error) {
        const retryable = error instanceof UploadError && RETRY_STATUSES.has(error.status);
        if (!retryable || attempt >= this.opts.retryDelays.length) {
          if (allowGone && error instanceof UploadError && error.status >= 400 && error.status < 500) return null;
          throw error;
        }
        this.opts.onRetry(error, attempt + 1);
        await this.pause(this.opts.retryDelays[attempt]);
      }
    }
  }

  pause(ms) {
    return new Promise((resolve, reject) => {
      const signal = this.opts.signal;
      const done = () => {
        clearTimeout(timer);
        window.removeEventListener("online", done);
        if (signal) signal.removeEventListener("abort", stop);
        resolve();
      };
      const stop = () => {
        clearTimeout(timer);
        window.removeEventListener("online", done);
        reject(new DOMException("The upload was stopped.", "AbortError"));
      };
      const timer = setTimeout(done, ms);
      window.addEventListener("online", done, { once: true }); // back online: no need to wait longer
      if (signal) {
        if (signal.aborted) return stop();
        signal.addEventListener("abort", stop, { once: true });
      }
    });
  }

  // One request; resolves with {status, header(name), body} for any HTTP answer, rejects with
  // an UploadError of status 0 when nothing came back.
  send(method, url, headers, body = null, onSent = null) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", TUS_VERSION);
      if (this.opts.csrfToken) xhr.setRequestHeader("X-CSRFToken", this.opts.csrfToken);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      if (onSent) xhr.upload.onprogress = (event) => onSent(event.loaded);
      const signal = this.opts.signal;
      const abort = () => xhr.abort();
      if (signal) signal.addEventListener("abort", abort, { once: true });
      const settle = () => signal && signal.removeEventListener("abort", abort);
      xhr.onload = () => {
        settle();
        resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name), body: xhr.responseText });
      };
      xhr.onerror = xhr.ontimeout = () => {
        settle();
        reject(new UploadError("The connection to the server was lost.", 0));
      };
      xhr.onabort = () => {
        settle();
        reject(new DOMException("The upload was stopped.", "AbortError"));
      };
      xhr.send(body);
    });
  }
}

function errorFrom(response) {
  let message = `The server answered ${response.status}.`;
  try {
    const parsed = JSON.parse(response.body);
    if (parsed && parsed.error) message = parsed.error; // already in the user's language
  } catch (_ignored) {
    // not JSON (a proxy's error page): keep the status
  }
  return new UploadError(message, response.status);
}

// --- remembering uploads across page loads -------------------------------------------------

function fingerprint(file, endpoint, metadata) {
  const about = [endpoint, metadata.candidate_id, metadata.interview_id || "", file.name, file.size, file.lastModified];
  return STORAGE_PREFIX + about.join("\u001f");
}

function recall(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (_ignored) {
    return null; // storage disabled: resuming still works within this page
  }
}

function remember(key, url) {
  try {
    window.localStorage.setItem(key, url);
  } catch (_ignored) {
    // storage full or disabled
  }
}

function forget(key) {
  try {
    window.localStorage.removeItem(key);
  } catch (_ignored) {
    // storage disabled
  }
}

function base64(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// --- markup binding ------------------------------------------------------------------------

export function bindUploadForm(form) {
  const input = form.querySelector('input[type="file"]');
  const bar = form.querySelector("progress");
  const status = form.querySelector("[data-upload-status]");
  const button = form.querySelector('[type="submit"]');
  const text = (name, fallback) => form.dataset[name] || fallback;
  const say = (message) => {
    if (status) status.textContent = message;
  };
  let running = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input && input.files[0];
    if (running || !file) return;
    running = true;
    if (button) button.disabled = true;
    const field = (name) => (form.elements[name] ? form.elements[name].value : "");
    try {
      say(text("msgUploading", "Uploading…"));
      const { recordingId } = await uploadRecording(file, {
        endpoint: form.dataset.uploadEndpoint,
        csrfToken: field("csrf_token"),
        metadata: { candidate_id: field("candidate_id"), interview_id: field("interview_id") },
        onProgress: (sent, total) => {
          if (bar) {
            bar.max = total;
            bar.value = sent;
          }
          const percent = total ? Math.floor((sent * 100) / total) : 100;
          say(`${text("msgUploading", "Uploading…")} ${percent}%`);
        },
        onRetry: () => say(text("msgRetrying", "Connection lost; trying again…")),
      });
      say(text("msgDone", "Uploaded."));
      form.dispatchEvent(new CustomEvent("talentreel:uploaded", { detail: { recordingId }, bubbles: true }));
      if (form.dataset.uploadDone) window.location.assign(form.dataset.uploadDone.replace("{id}", String(recordingId)));
    } catch (error) {
      say(`${text("msgFailed", "The upload failed:")} ${error.message}`);
    } finally {
      running = false;
      if (button) button.disabled = false;
    }
  });
}

for (const form of document.querySelectorAll("form[data-upload-endpoint]")) bindUploadForm(form);
