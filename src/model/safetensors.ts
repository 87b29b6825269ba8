import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { parseJsonAs } from '../data/parse-json-as.js';
import { writeAll, writeOutputWith } from '../io/write-output.js';
import { bf16ToFloat, decodeBf16, decodeF16, floatToBf16, floatToHalf, halfToFloat } from './float16.js';

/**
 * Safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets:[begin,end]}, __metadata__?}, then the raw little-endian data. Tensors are read
 * one at a time by offset, so a multi-GB checkpoint never sits in one Buffer.
 */
export type StoredDtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const READABLE = new Set(['F32', 'F16', 'BF16']);
// A real header is at most a few MB; anything larger means the file is not safetensors (or is truncated/corrupt).
const MAX_HEADER = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** File holding the tensor. */
  file: string;
  /** Absolute byte offset of the data in that file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** Reads one tensor as float32 (F32, F16 and BF16 are converted). */
  read(name: string): Float32Array;
  close(): void;
}

export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ModelError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check that the model directory holds its .safetensors files');
  }
  try {
    return parseOpened(path, fd);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function parseOpened(path: string, fd: number): SafetensorsFile {
  const size = fstatSync(fd).size;
  const corrupt = (why: string) =>
    new ModelError(`${path}: corrupt safetensors header (${why})`, 're-download or re-convert this file; its header is damaged, or it is not a safetensors file');
  // A file cut short (interrupted download or copy) is told apart from a damaged header: the fix differs.
  const truncatedHint = 're-download or re-copy this file; it is shorter than its header says (an interrupted download or copy)';
  const truncated = (why: string) => new ModelError(`${path}: truncated safetensors file (${why})`, truncatedHint);
  if (size < 8) throw truncated(`file is only ${size} bytes`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen <= 1 || headerLen > MAX_HEADER) throw corrupt(`header length ${headerLen} does not fit a ${size}-byte file`);
  if (headerLen + 8 > size) throw truncated(`the header needs ${headerLen + 8} bytes but the file has ${size}`);
  const headerBuf = Buffer.alloc(headerLen);
  readSync(fd, headerBuf, 0, headerLen, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (e) {
    throw corrupt(`header is not JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw corrupt('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const bad = (why: string) => new ModelError(`${path}: tensor "${name}": ${why}`, 're-download or re-convert this file; its header is corrupt');
    if (typeof r?.dtype !== 'string' || !(r.dtype in BYTES)) throw bad(`unknown dtype ${JSON.stringify(r?.dtype)}`);
    if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad('shape is not a list of sizes');
    const offs = r.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0)) throw bad('data_offsets is not [begin, end]');
    const [begin, end] = offs as [number, number];
    const shape = r.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * BYTES[r.dtype]!;
    if (end - begin !== expected) throw bad(`data_offsets span ${end - begin} bytes but ${r.dtype}${JSON.stringify(shape)} needs ${expected}`);
    if (end > dataSize) {
      throw new ModelError(`${path}: tensor "${name}": data ends at byte ${end} but the file has only ${dataSize} data bytes (truncated)`, truncatedHint);
    }
    infos.set(name, { name, dtype: r.dtype, shape, file: path, offset: dataStart + begin, byteLength: expected });
  }
  let closed = false;
  return {
    path,
    metadata,
    names: () => [...infos.keys()],
    has: (name) => infos.has(name),
    info(name) {
      const i = infos.get(name);
      if (!i) throw new ModelError(`${path}: no tensor "${name}"`, 'the checkpoint does not match its config.json');
      return i;
    },
    read(name) {
      if (closed) throw new ModelError(`${path}: read of "${name}" after close`);
      return readTensor(fd, this.info(name));
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

function readTensor(fd: number, info: TensorInfo): Float32Array {
  if (!READABLE.has(info.dtype)) {
    throw new ModelError(`${info.file}: tensor "${info.name}" is stored as ${info.dtype}`, 'only F32, F16 and BF16 weights can be loaded; convert the checkpoint (quantised weights are not supported)');
  }
  const n = info.byteLength / BYTES[info.dtype]!;
  const out = new Float32Array(n);
  if (info.dtype === 'F32') {
    readFully(fd, new Uint8Array(out.buffer), info.offset, info);
    return out;
  }
  // Convert in 16 MB slices so a large tensor needs only its float32 copy plus one slice.
  const chunkElems = 8 * 1024 * 1024;
  const buf = new Uint8Array(Math.min(n, chunkElems) * 2);
  for (let start = 0; start < n; start += chunkElems) {
    const count = Math.min(chunkElems, n - start);
    const bytes = buf.subarray(0, count * 2);
    readFully(fd, bytes, info.offset + start * 2, info);
    const dst = out.subarray(start, start + count);
    if (info.dtype === 'F16') decodeF16(bytes, dst);
    else decodeBf16(bytes, dst);
  }
  return out;
}

function readFully(fd: number, into: Uint8Array, position: number, info: TensorInfo): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(into.length - done, 1 << 30), position + done);
    if (n === 0) throw new ModelError(`${info.file}: tensor "${info.name}": unexpected end of file`, 're-download this file; it is truncated');
    done += n;
  }
}

/** All weights of a model directory: `model.safetensors`, or the shards listed in `model.safetensors.index.json`. */
export interface SafetensorsDir {
  dir: string;
  files: string[];
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  read(name: string): Float32Array;
  close(): void;
}

/** model.safetensors.index.json: which shard holds each tensor. */
const indexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

export function readSafetensorsDir(dir: string): SafetensorsDir {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const single = join(dir, 'model.safetensors');
  const owner = new Map<string, SafetensorsFile>();
  const opened: SafetensorsFile[] = [];
  try {
    if (existsSync(indexPath)) {
      let map: Record<string, string>;
      try {
        map = parseJsonAs(readFileSync(indexPath, 'utf8'), indexSchema).weight_map;
      } catch (e) {
        throw new ModelError(`${indexPath}: not a safetensors index (${(e as Error).message})`, 're-download the index file');
      }
      const byFile = new Map<string, SafetensorsFile>();
      for (const [name, file] of Object.entries(map)) {
        let f = byFile.get(file);
        if (!f) {
          const p = join(dir, basename(file));
          if (!existsSync(p)) throw new ModelError(`${p}: shard listed in ${indexPath} for tensor "${name}" is missing`, 'download every shard of the checkpoint');
          f = openSafetensors(p);
          byFile.set(file, f);
          opened.push(f);
        }
        if (!f.has(name)) throw new ModelError(`${f.path}: tensor "${name}" is listed in ${indexPath} but not in the shard`, 're-download the checkpoint; index and shards disagree');
        owner.set(name, f);
      }
    } else if (existsSync(single)) {
      const f = openSafetensors(single);
      opened.push(f);
      for (const n of f.names()) owner.set(n, f);
    } else {
      throw new ModelError(`${dir}: no model.safetensors or model.safetensors.index.json`, 'point --model at a Hugging Face model directory with safetensors weights (.bin/.pth checkpoints are not supported)');
    }
  } catch (e) {
    for (const f of opened) f.close();
    throw e;
  }
  const files = opened.map((f) => f.path);
  const get = (name: string) => {
    const f = owner.get(name);
    if (!f) throw new ModelError(`${files.join(', ')}: missing tensor "${name}"`, 'the weights do not match config.json (wrong architecture or an incomplete download)');
    return f;
  };
  return {
    dir,
    files,
    names: () => [...owner.keys()],
    has: (name) => owner.has(name),
    info: (name) => get(name).info(name),
    read: (name) => get(name).read(name),
    close: () => opened.forEach((f) => f.close()),
  };
}

export interface TensorToWrite {
  dtype: StoredDtype;
  shape: number[];
  data: Float32Array;
}

/** Writes a safetensors file through the output helper (temp file + rename: a crash never leaves half a checkpoint). */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new TypeError(`writeSafetensors: tensor "${name}" has ${t.data.length} values but shape ${JSON.stringify(t.shape)}`);
    const bytes = numel * BYTES[t.dtype]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // The data section starts 8-byte aligned, as the reference implementation pads the header with spaces.
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));
  writeOutputWith(path, (fd) => {
    writeAll(fd, lenBuf);
    writeAll(fd, headerBuf);
    for (const name of names) writeAll(fd, encodeTensor(tensors[name]!));
  });
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(t.data.length * 2);
  const enc = t.dtype === 'F16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < t.data.length; i++) {
    const h = enc(t.data[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}

/** The float32 value a number becomes after a round trip through `dtype` storage (tests build references from it). */
export function roundToDtype(data: Float32Array, dtype: StoredDtype): Float32Array {
  if (dtype === 'F32') return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = dtype === 'F16' ? halfToFloat(floatToHalf(data[i]!)) : bf16ToFloat(floatToBf16(data[i]!));
  return out;
}
