/**
 * Builds ONNX ModelProto bytes from a plain description, through protobufjs and a JSON descriptor
 * of the onnx.proto subset cellcam needs (tiny test/fixture models, toy heads; not a model zoo).
 */
import { endianness } from 'node:os';
import protobuf from 'protobufjs';
import { rangeError, typeError } from '../errors.js';

/** Tensor element types the writer can store (ONNX `TensorProto.DataType` names in ORT spelling). */
export type OnnxDataType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64';

/** ONNX `TensorProto.DataType` codes, keyed by the ORT dtype name. */
export const ONNX_DATA_TYPES: Readonly<Record<OnnxDataType, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
});

/** The dtype name for an ONNX `TensorProto.DataType` code, or `unknown(<code>)`. */
export function onnxDataTypeName(code: number): string {
  for (const [name, c] of Object.entries(ONNX_DATA_TYPES)) if (c === code) return name;
  return `unknown(${code})`;
}

// Storage class per dtype for raw_data (bool is one byte per element, float16 its bit pattern).
const STORAGE: Record<OnnxDataType, { ctor: new (n: number) => ArrayBufferView & ArrayLike<number | bigint>; bigint: boolean }> = {
  float32: { ctor: Float32Array, bigint: false },
  uint8: { ctor: Uint8Array, bigint: false },
  int8: { ctor: Int8Array, bigint: false },
  uint16: { ctor: Uint16Array, bigint: false },
  int16: { ctor: Int16Array, bigint: false },
  int32: { ctor: Int32Array, bigint: false },
  int64: { ctor: BigInt64Array, bigint: true },
  bool: { ctor: Uint8Array, bigint: false },
  float16: { ctor: Uint16Array, bigint: false },
  float64: { ctor: Float64Array, bigint: false },
  uint32: { ctor: Uint32Array, bigint: false },
  uint64: { ctor: BigUint64Array, bigint: true },
};

/** A constant tensor (initializer or `Constant`/attribute value). Data is row-major. */
export interface OnnxTensor {
  name: string;
  dtype: OnnxDataType;
  dims: readonly number[];
  /** A typed array of the dtype's storage class (Float32Array for float32, BigInt64Array for int64, …) or plain numbers/bigints. */
  data: ArrayBufferView | readonly number[] | readonly bigint[];
}

/** One dimension of a value's shape: a fixed size, a symbolic name (dynamic axis), or null (unknown). */
export type OnnxDim = number | string | null;

/** A graph input/output declaration. `shape` undefined or null declares an unranked tensor. */
export interface OnnxValueInfo {
  name: string;
  dtype: OnnxDataType;
  shape?: readonly OnnxDim[] | null;
}

/** A node attribute with its ONNX type made explicit (an integer-valued float stays a float). */
export type OnnxAttribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'strings'; value: readonly string[] }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'graph'; value: OnnxGraph };

/** Shorthands for {@link OnnxAttribute} values. */
export const onnxAttr = {
  int: (value: number): OnnxAttribute => ({ type: 'int', value }),
  float: (value: number): OnnxAttribute => ({ type: 'float', value }),
  string: (value: string): OnnxAttribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value }),
  strings: (value: readonly string[]): OnnxAttribute => ({ type: 'strings', value }),
  tensor: (value: OnnxTensor): OnnxAttribute => ({ type: 'tensor', value }),
  graph: (value: OnnxGraph): OnnxAttribute => ({ type: 'graph', value }),
};

/** One operator application. An empty input name marks an omitted optional input. */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Operator-set domain; '' (default) is the standard ai.onnx set. */
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** A computation graph; nodes must be in topological order. */
export interface OnnxGraph {
  name?: string;
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  initializers?: readonly OnnxTensor[];
  valueInfo?: readonly OnnxValueInfo[];
  docString?: string;
}

/** A whole model. Defaults: IR version 8, opset `[{domain:'', version:17}]`, producer `cellcam`. */
export interface OnnxModel {
  graph: OnnxGraph;
  irVersion?: number;
  opsetImports?: readonly { domain?: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** `metadata_props` key/value pairs (ORT exposes them as custom metadata). */
  metadata?: Readonly<Record<string, string>>;
}

// The onnx.proto (proto2, IR 8) subset as a protobufjs JSON descriptor. Field ids are onnx.proto's;
// names are protobufjs camelCase. `packed` follows onnx.proto so the bytes match onnx's own writer.
const ONNX_PROTO_JSON = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            refAttrName: { type: 'string', id: 21 },
            docString: { type: 'string', id: 13 },
            type: { type: 'AttributeType', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            tp: { type: 'TypeProto', id: 14 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            tensors: { rule: 'repeated', type: 'TensorProto', id: 10 },
            graphs: { rule: 'repeated', type: 'GraphProto', id: 11 },
          },
          nested: {
            AttributeType: {
              values: {
                UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7,
                STRINGS: 8, TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
              },
            },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
            docString: { type: 'string', id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            domain: { type: 'string', id: 7 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            int32Data: { rule: 'repeated', type: 'int32', id: 5, options: { packed: true } },
            stringData: { rule: 'repeated', type: 'bytes', id: 6 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: { packed: true } },
            name: { type: 'string', id: 8 },
            docString: { type: 'string', id: 12 },
            rawData: { type: 'bytes', id: 9 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
            doubleData: { rule: 'repeated', type: 'double', id: 10, options: { packed: true } },
            uint64Data: { rule: 'repeated', type: 'uint64', id: 11, options: { packed: true } },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: {
                dimValue: { type: 'int64', id: 1 },
                dimParam: { type: 'string', id: 2 },
                denotation: { type: 'string', id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: {
            tensorType: { type: 'Tensor', id: 1 },
            denotation: { type: 'string', id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: 'int32', id: 1 },
                shape: { type: 'TensorShapeProto', id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

let root: protobuf.Root | null = null;

/** The protobufjs Root holding the onnx.proto subset (message types `onnx.ModelProto`, …). */
export function onnxProtoRoot(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(ONNX_PROTO_JSON);
  return root;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8 } as const;
const utf8 = new TextEncoder();

function checkName(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw typeError(name, 'a non-empty string', v);
  return v;
}

function checkDtype(name: string, v: unknown): OnnxDataType {
  if (typeof v !== 'string' || !(v in ONNX_DATA_TYPES)) throw typeError(name, `one of ${Object.keys(ONNX_DATA_TYPES).join(', ')}`, v);
  return v as OnnxDataType;
}

function tensorMessage(t: OnnxTensor, where: string): Record<string, unknown> {
  checkName(`${where}.name`, t.name);
  const dtype = checkDtype(`${where}.dtype`, t.dtype);
  if (!Array.isArray(t.dims)) throw typeError(`${where}.dims`, 'an array of integers', t.dims);
  let count = 1;
  t.dims.forEach((d, k) => {
    if (!Number.isSafeInteger(d) || d < 0) throw rangeError(`${where}.dims[${k}]`, 'a non-negative integer', d);
    count *= d;
  });
  const store = STORAGE[dtype];
  let data = t.data as ArrayBufferView | readonly (number | bigint)[];
  if (!ArrayBuffer.isView(data)) {
    if (!Array.isArray(data)) throw typeError(`${where}.data`, `a typed array or an array of ${store.bigint ? 'bigints' : 'numbers'}`, data);
    const arr = new store.ctor(data.length) as unknown as { [i: number]: number | bigint };
    data.forEach((v, k) => {
      arr[k] = store.bigint ? BigInt(v) : Number(v);
    });
    data = arr as unknown as ArrayBufferView;
  } else if (!(data instanceof store.ctor)) {
    throw typeError(`${where}.data`, `${store.ctor.name} for dtype ${dtype}`, data);
  }
  const len = (data as unknown as ArrayLike<unknown>).length;
  if (len !== count) throw rangeError(`${where}.data`, `${count} elements (product of dims [${t.dims.join(', ')}])`, data, 'CELLCAM_E_SHAPE');
  // ONNX raw_data is little-endian; a view on the caller's memory avoids a copy.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name: t.name, dims: [...t.dims], dataType: ONNX_DATA_TYPES[dtype], rawData: raw };
}

function valueInfoMessage(v: OnnxValueInfo, where: string): Record<string, unknown> {
  checkName(`${where}.name`, v.name);
  const dtype = checkDtype(`${where}.dtype`, v.dtype);
  const tensorType: Record<string, unknown> = { elemType: ONNX_DATA_TYPES[dtype] };
  if (v.shape != null) {
    if (!Array.isArray(v.shape)) throw typeError(`${where}.shape`, 'an array of dims or null', v.shape);
    tensorType.shape = {
      dim: v.shape.map((d, k) => {
        if (d === null) return {};
        if (typeof d === 'string' && d.length > 0) return { dimParam: d };
        if (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0) return { dimValue: d };
        throw typeError(`${where}.shape[${k}]`, 'a non-negative integer, a non-empty string or null', d);
      }),
    };
  }
  return { name: v.name, type: { tensorType } };
}

function attributeMessage(name: string, a: OnnxAttribute, where: string): Record<string, unknown> {
  const msg: Record<string, unknown> = { name };
  if (a === null || typeof a !== 'object' || !(a.type in ATTR_TYPE)) {
    throw typeError(where, `an attribute {type: ${Object.keys(ATTR_TYPE).join('|')}, value}`, a);
  }
  msg.type = ATTR_TYPE[a.type];
  const num = (v: unknown, int: boolean, at: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isSafeInteger(v))) throw typeError(at, int ? 'an integer' : 'a finite number', v);
    return v;
  };
  const list = <T>(v: unknown, at: string): readonly T[] => {
    if (!Array.isArray(v)) throw typeError(at, 'an array', v);
    return v as readonly T[];
  };
  switch (a.type) {
    case 'int': msg.i = num(a.value, true, `${where}.value`); break;
    case 'float': msg.f = num(a.value, false, `${where}.value`); break;
    case 'string': msg.s = utf8.encode(String(a.value)); break;
    case 'ints': msg.ints = list<number>(a.value, `${where}.value`).map((v, k) => num(v, true, `${where}.value[${k}]`)); break;
    case 'floats': msg.floats = list<number>(a.value, `${where}.value`).map((v, k) => num(v, false, `${where}.value[${k}]`)); break;
    case 'strings': msg.strings = list<string>(a.value, `${where}.value`).map((v) => utf8.encode(String(v))); break;
    case 'tensor': msg.t = tensorMessage(a.value, `${where}.value`); break;
    case 'graph': msg.g = graphMessage(a.value, `${where}.value`, new Set()); break;
  }
  return msg;
}

function graphMessage(g: OnnxGraph, where: string, outer: ReadonlySet<string>): Record<string, unknown> {
  if (g === null || typeof g !== 'object') throw typeError(where, 'a graph object', g);
  for (const key of ['nodes', 'inputs', 'outputs'] as const) {
    if (!Array.isArray(g[key])) throw typeError(`${where}.${key}`, 'an array', g[key]);
  }
  const initializers = g.initializers ?? [];
  // Subgraphs (If/Loop bodies) may read names of the enclosing graph.
  const known = new Set<string>(outer);
  const inputs = g.inputs.map((v, k) => {
    const m = valueInfoMessage(v, `${where}.inputs[${k}]`);
    known.add(v.name);
    return m;
  });
  const inits = initializers.map((t, k) => {
    const m = tensorMessage(t, `${where}.initializers[${k}]`);
    known.add(t.name);
    return m;
  });
  const nodes = g.nodes.map((n, k) => {
    const at = `${where}.nodes[${k}]`;
    checkName(`${at}.opType`, n.opType);
    if (!Array.isArray(n.inputs)) throw typeError(`${at}.inputs`, 'an array of names', n.inputs);
    if (!Array.isArray(n.outputs) || n.outputs.length === 0) throw typeError(`${at}.outputs`, 'a non-empty array of names', n.outputs);
    n.inputs.forEach((name, j) => {
      if (typeof name !== 'string') throw typeError(`${at}.inputs[${j}]`, 'a string', name);
      if (name !== '' && !known.has(name)) {
        throw rangeError(`${at}.inputs[${j}]`, 'a graph input, initializer or earlier node output', name, 'CELLCAM_E_ARG');
      }
    });
    n.outputs.forEach((name, j) => known.add(checkName(`${at}.outputs[${j}]`, name)));
    const attrs = Object.entries(n.attributes ?? {}).map(([name, a]) => attributeMessage(name, a, `${at}.attributes.${name}`));
    const msg: Record<string, unknown> = { input: [...n.inputs], output: [...n.outputs], opType: n.opType, attribute: attrs };
    if (n.name) msg.name = n.name;
    if (n.domain) msg.domain = n.domain;
    return msg;
  });
  const outputs = g.outputs.map((v, k) => {
    if (v && typeof v.name === 'string' && !known.has(v.name)) {
      throw rangeError(`${where}.outputs[${k}].name`, 'a name produced by a node, an input or an initializer', v.name, 'CELLCAM_E_ARG');
    }
    return valueInfoMessage(v, `${where}.outputs[${k}]`);
  });
  const msg: Record<string, unknown> = {
    node: nodes,
    name: g.name ?? 'graph',
    initializer: inits,
    input: inputs,
    output: outputs,
    valueInfo: (g.valueInfo ?? []).map((v, k) => valueInfoMessage(v, `${where}.valueInfo[${k}]`)),
  };
  if (g.docString) msg.docString = g.docString;
  return msg;
}

/**
 * Serialises a model description to ONNX protobuf bytes (loadable by onnxruntime, onnx, netron).
 * Checks names, dtypes, tensor sizes and that every node input is defined before use.
 *
 * @example
 * ```ts
 * const bytes = encodeOnnxModel({
 *   graph: {
 *     nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
 *     inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }],
 *     outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 4] }],
 *   },
 * });
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  if (endianness() !== 'LE') throw new RangeError('encodeOnnxModel writes raw_data from typed-array memory and needs a little-endian host');
  if (model === null || typeof model !== 'object') throw typeError('model', 'an object', model);
  const irVersion = model.irVersion ?? 8;
  if (!Number.isSafeInteger(irVersion) || irVersion < 3) throw rangeError('model.irVersion', 'an integer >= 3', irVersion);
  const opsets = (model.opsetImports ?? [{ domain: '', version: 17 }]).map((o, k) => {
    if (!Number.isSafeInteger(o?.version) || o.version < 1) throw rangeError(`model.opsetImports[${k}].version`, 'a positive integer', o?.version);
    return { domain: o.domain ?? '', version: o.version };
  });
  const msg: Record<string, unknown> = {
    irVersion,
    opsetImport: opsets,
    producerName: model.producerName ?? 'cellcam',
    graph: graphMessage(model.graph, 'model.graph', new Set()),
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value: String(value) })),
  };
  if (model.producerVersion) msg.producerVersion = model.producerVersion;
  if (model.docString) msg.docString = model.docString;
  const Model = onnxProtoRoot().lookupType('onnx.ModelProto');
  return Model.encode(Model.fromObject(msg)).finish();
}

/**
 * Decodes ONNX bytes into a plain object (protobufjs camelCase field names, int64 as numbers,
 * bytes as Uint8Array). Meant for tests and inspection of small models: large weights are copied.
 *
 * @example
 * ```ts
 * const m = decodeOnnxModel(bytes);
 * console.log(m.opsetImport, m.graph.node.map((n) => n.opType));
 * ```
 */
export function decodeOnnxModel(bytes: Uint8Array): Record<string, any> {
  if (!(bytes instanceof Uint8Array)) throw typeError('bytes', 'Uint8Array', bytes);
  const Model = onnxProtoRoot().lookupType('onnx.ModelProto');
  return Model.toObject(Model.decode(bytes), { longs: Number, arrays: true, defaults: false });
}
