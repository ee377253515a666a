// fcnseg's browser page: segments an image, a video file or the webcam with ONNX Runtime Web,
// on this computer. model.json (written by `python -m fcnseg.export --web`) names the ONNX files,
// the input size the model was exported at, and the classes with their colours.
//
// The page's state is document.body.dataset.state: "loading", "ready" (the model is loaded and
// warmed up), "running", "done" (an image is segmented), "playing" (a video or the webcam), or
// "error" (the status line says why, in one line). window.fcnseg holds what it last computed,
// for scripts and tests: the mask at the model's size, the backend, the milliseconds per frame.
"use strict";

const WARMUP_RUNS = 1;
const TIMING_WINDOW = 20; // frames the shown milliseconds are the median of
const page = {
  config: null, session: null, precision: null, backend: "", input: null, source: null,
  sourceSize: null, mask: null, ms: [], playing: false, stream: null,
};
const $ = (id) => document.getElementById(id);

window.fcnseg = {
  get state() { return document.body.dataset.state; },
  get backend() { return page.backend; },
  get precision() { return page.precision; },
  get mask() { return page.mask; },
  get maskSize() { return page.config ? page.config.input_size : null; },
  get ms() { return page.ms.slice(); },
  maskPng: async () => base64(await maskPng()),
  time: timeRuns,
};

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) $("status").textContent = message;
}

function firstLine(error) {
  const text = String((error && error.message) || error);
  return text.split("\n").find((line) => line.trim()) || "unknown error";
}

function fail(error) {
  stopPlaying();
  setState("error", firstLine(error));
}

async function loadConfig() {
  let response;
  try {
    response = await fetch("model.json");
  } catch (error) {
    throw new Error(`model.json: could not be fetched (${firstLine(error)}); serve this folder with python -m fcnseg.serve_web`);
  }
  if (!response.ok) throw new Error(`model.json: could not be read (HTTP ${response.status})`);
  return response.json();
}

async function webgpuAvailable() {
  if (!("gpu" in navigator)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

// WebGPU where the browser has an adapter, else WebAssembly: threaded when the page is
// cross-origin isolated (served with COOP/COEP headers), else on one thread.
async function createSession(file) {
  if (typeof ort === "undefined") {
    throw new Error("ort.min.js: ONNX Runtime Web did not load; export again with --web_runtime naming onnxruntime-web's dist folder");
  }
  const threads = self.crossOriginIsolated ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4)) : 1;
  ort.env.wasm.numThreads = threads;
  const wasm = `wasm (${threads} thread${threads > 1 ? "s" : ""}${self.crossOriginIsolated ? "" : ", not cross-origin isolated"})`;
  const attempts = (await webgpuAvailable()) ? [["webgpu", "webgpu"], ["wasm", wasm]] : [["wasm", wasm]];
  let lastError;
  for (const [provider, name] of attempts) {
    try {
      const session = await ort.InferenceSession.create(file, { executionProviders: [provider] });
      return { session, backend: name };
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`${file}: not a model ONNX Runtime Web can load (${firstLine(lastError)})`);
}

async function loadModel(precision) {
  const file = page.config.models[precision];
  if (!file) throw new Error(`model=${precision} is not in this export; it has ${Object.keys(page.config.models).join(", ")}`);
  setState("loading", `Loading ${file}...`);
  page.session = null;
  const { session, backend } = await createSession(file);
  const [height, width] = page.config.input_size;
  const zeros = new ort.Tensor("float32", new Float32Array(height * width * 3), [1, height, width, 3]);
  for (let run = 0; run < WARMUP_RUNS; run++) await session.run({ [session.inputNames[0]]: zeros });
  Object.assign(page, { session, backend, precision, ms: [] });
  $("timing").textContent = "";
  setState("ready", `Ready: ${page.config.model} (${precision}) on ${backend}. Open an image, a video or the webcam.`);
}

// The frame drawn at the model's size as float32 RGB pixels 0..255 (NHWC): what the ONNX file takes.
function inputTensor(source) {
  const [height, width] = page.config.input_size;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const pixels = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    pixels[j] = rgba[i];
    pixels[j + 1] = rgba[i + 1];
    pixels[j + 2] = rgba[i + 2];
  }
  return new ort.Tensor("float32", pixels, [1, height, width, 3]);
}

function argmax(logits, classes) {
  const mask = new Uint8Array(logits.length / classes);
  for (let pixel = 0, offset = 0; pixel < mask.length; pixel++, offset += classes) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[offset + c] > logits[offset + best]) best = c;
    mask[pixel] = best;
  }
  return mask;
}

async function runModel(tensor) {
  const session = page.session;
  const started = performance.now();
  const outputs = await session.run({ [session.inputNames[0]]: tensor });
  const ms = performance.now() - started;
  const logits = outputs[session.outputNames[0]];
  return { mask: argmax(logits.data, logits.dims[3]), ms };
}

function median(values) {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : NaN;
}

function showTiming() {
  const recent = page.ms.slice(-TIMING_WINDOW);
  $("timing").textContent = `${median(recent).toFixed(1)} ms per frame on ${page.backend} ` +
    `(median of the last ${recent.length}, after ${WARMUP_RUNS} warm-up run)`;
}

async function segment(source, sourceSize) {
  page.input = inputTensor(source);
  const { mask, ms } = await runModel(page.input);
  Object.assign(page, { source, sourceSize, mask });
  page.ms.push(ms);
  draw();
  showTiming();
  $("download").disabled = false;
}

// The frame at its own size with the mask over it, scaled up from the model's size without smoothing.
function draw() {
  if (!page.mask) return;
  const [height, width] = page.config.input_size;
  const [sourceHeight, sourceWidth] = page.sourceSize;
  const view = $("view");
  if (view.width !== sourceWidth || view.height !== sourceHeight) Object.assign(view, { width: sourceWidth, height: sourceHeight });
  const context = view.getContext("2d");
  context.globalAlpha = 1;
  context.drawImage(page.source, 0, 0, sourceWidth, sourceHeight);
  const colours = new ImageData(width, height);
  for (let pixel = 0; pixel < page.mask.length; pixel++) {
    const [r, g, b] = page.config.colors[page.mask[pixel]];
    colours.data.set([r, g, b, 255], pixel * 4);
  }
  const overlay = new OffscreenCanvas(width, height);
  overlay.getContext("2d").putImageData(colours, 0, 0);
  context.imageSmoothingEnabled = false;
  context.globalAlpha = Number($("opacity").value);
  context.drawImage(overlay, 0, 0, sourceWidth, sourceHeight);
  context.globalAlpha = 1;
}

async function openFile(file) {
  stopPlaying();
  const url = URL.createObjectURL(file);
  if (file.type.startsWith("video/")) return playVideo({ src: url }, file.name);
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
  } catch {
    throw new Error(`${file.name}: not an image this browser can decode`);
  }
  setState("running", `Segmenting ${file.name}...`);
  await segment(image, [image.naturalHeight, image.naturalWidth]);
  setState("done", `${file.name}: segmented by ${page.config.model} (${page.precision}) on ${page.backend}.`);
}

async function playVideo(media, name) {
  const video = $("video");
  video.srcObject = media.stream || null;
  if (media.src) video.src = media.src;
  video.loop = !media.stream;
  try {
    await video.play();
  } catch (error) {
    throw new Error(`${name}: could not be played (${firstLine(error)})`);
  }
  page.playing = true;
  $("stop").disabled = false;
  setState("playing", `${name}: segmenting every frame with ${page.config.model} (${page.precision}) on ${page.backend}.`);
  while (page.playing && !video.ended) {
    await segment(video, [video.videoHeight, video.videoWidth]);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

async function startWebcam() {
  stopPlaying();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("webcam: this browser gives no camera to pages served over plain http from other hosts; use localhost or https");
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (error) {
    throw new Error(`webcam: no camera or no permission (${firstLine(error)})`);
  }
  page.stream = stream;
  await playVideo({ stream }, "webcam");
}

function stopPlaying() {
  page.playing = false;
  $("stop").disabled = true;
  const video = $("video");
  video.pause();
  if (page.stream) page.stream.getTracks().forEach((track) => track.stop());
  page.stream = null;
  if (document.body.dataset.state === "playing") setState("done", "Stopped.");
}

// The mask at the input's size (nearest neighbour from the model's size), as an 8-bit grey PNG
// of class indices: the file `python -m fcnseg.predict --views=index` writes.
async function maskPng() {
  const [height, width] = page.config.input_size;
  const [outHeight, outWidth] = page.sourceSize;
  const rows = new Uint8Array((outWidth + 1) * outHeight); // each row starts with PNG filter 0
  for (let y = 0; y < outHeight; y++) {
    const from = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outHeight)) * width;
    for (let x = 0; x < outWidth; x++) {
      rows[y * (outWidth + 1) + 1 + x] = page.mask[from + Math.min(width - 1, Math.floor(((x + 0.5) * width) / outWidth))];
    }
  }
  const deflated = new Blob([rows]).stream().pipeThrough(new CompressionStream("deflate"));
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, outWidth);
  new DataView(header.buffer).setUint32(4, outHeight);
  header[8] = 8; // bits per sample; colour type 0 (grey), no interlace
  const signature = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
  const chunks = [chunk("IHDR", header), chunk("IDAT", new Uint8Array(await new Response(deflated).arrayBuffer())), chunk("IEND", new Uint8Array(0))];
  return new Blob([signature, ...chunks], { type: "image/png" });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  let crc = 0xffffffff;
  for (const byte of out.subarray(4, 8 + data.length)) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
  return out;
}

async function base64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// Milliseconds of `runs` more runs on the last frame (for benchmarks).
async function timeRuns(runs) {
  if (!page.input) throw new Error("time: segment a frame first");
  const times = [];
  for (let run = 0; run < runs; run++) times.push((await runModel(page.input)).ms);
  return times;
}

async function download() {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await maskPng());
  link.download = "mask.png";
  link.click();
}

function showLegend() {
  const legend = $("legend");
  page.config.classes.forEach((name, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.style.background = `rgb(${page.config.colors[index].join(",")})`;
    item.append(swatch, name);
    legend.append(item);
  });
}

function guarded(action) {
  return (...args) => Promise.resolve().then(() => action(...args)).catch(fail);
}

async function main() {
  page.config = await loadConfig();
  showLegend();
  const select = $("precision");
  for (const precision of Object.keys(page.config.models)) select.add(new Option(precision, precision));
  const wanted = new URLSearchParams(location.search).get("model") || Object.keys(page.config.models)[0];
  select.value = wanted;
  await loadModel(wanted);
  $("file").addEventListener("change", guarded((event) => event.target.files[0] && openFile(event.target.files[0])));
  $("webcam").addEventListener("click", guarded(startWebcam));
  $("stop").addEventListener("click", () => stopPlaying());
  $("download").addEventListener("click", guarded(download));
  $("opacity").addEventListener("input", () => draw());
  select.addEventListener("change", guarded(async () => {
    stopPlaying();
    await loadModel(select.value);
    if (page.source instanceof HTMLImageElement) await segment(page.source, page.sourceSize);
  }));
}

guarded(main)();
