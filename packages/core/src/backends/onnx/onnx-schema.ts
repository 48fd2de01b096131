import protobuf from 'protobufjs';

/**
 * The subset of ONNX's protobuf schema (onnx/onnx.proto, field numbers from the ONNX
 * specification) that the lowering writes, as a protobufjs JSON descriptor so that no
 * .proto file has to travel with the built package.
 */
const descriptor = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'int32', id: 20 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        StringStringEntryProto: {
          fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } },
        },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
        },
        Dimension: {
          oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
          fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

/** protobufjs message type for onnx.ModelProto. */
export const ModelProto = root.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType codes used here. */
export const OnnxDataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

/** ONNX AttributeProto.AttributeType codes used here. */
export const OnnxAttrType = { FLOAT: 1, INT: 2, STRING: 3, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** TensorProto.DataLocation: EXTERNAL (the values are in a file named by `externalData`). */
export const ONNX_DATA_EXTERNAL = 1;

/** Plain-object shapes of the messages (what `ModelProto.fromObject` takes). */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** The values, little-endian; absent when they are external. */
  rawData?: Uint8Array;
  /** Where external values are: `location` (a file beside the model), `offset`, `length`. */
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}
/** ONNX ValueInfoProto as a plain object. */
export interface OnnxValueInfo {
  name: string;
  type: {
    tensorType: { elemType: number; shape?: { dim: ({ dimValue: number } | { dimParam: string })[] } };
  };
}
/** ONNX AttributeProto as a plain object. */
export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
}
/** ONNX NodeProto as a plain object. */
export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: OnnxAttribute[];
}
/** ONNX GraphProto as a plain object. */
export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}
