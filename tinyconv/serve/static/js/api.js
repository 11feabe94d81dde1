// The server's JSON API: GET /api/model and POST /api/predict.

async function call(url, options) {
  const response = await fetch(url, options);
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`${url}: HTTP ${response.status} (not JSON)`);
  }
  if (!response.ok) throw new Error(body.error || `${url}: HTTP ${response.status}`);
  return body;
}

/** The served model: name, input_shape, classes, summary, layers, metadata, version. */
export function getModel() {
  return call("/api/model", { cache: "no-store" });
}

/**
 * Ask the model about an image.
 * @param {number[][]} image rows of grey levels 0..255, bright ink on black
 * @returns {Promise<object>} class, probabilities, input (the 28x28 seen), maps
 */
export function predict(image) {
  return call("/api/predict", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image, invert: false }),
  });
}

/** Bytes of a base64 string. */
export function bytesOf(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
