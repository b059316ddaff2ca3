/**
 * The graph used to test whether an execution provider really works: y = x + x on a float32 [1, 4] tensor.
 * Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, ValueInfoProto, TypeProto).
 */
import { ProtoWriter } from './protoWriter.ts'

const ONNX_FLOAT = 1
const IR_VERSION = 8
const OPSET = 17
export const PROBE_SHAPE = [1, 4] as const

function tensorValueInfo(w: ProtoWriter, name: string): void {
  w.string(1, name) // ValueInfoProto.name
  w.message(2, (type) =>
    // TypeProto.tensor_type
    type.message(1, (tensor) => {
      tensor.varint(1, ONNX_FLOAT) // elem_type
      tensor.message(2, (shape) => {
        for (const dim of PROBE_SHAPE) shape.message(1, (d) => d.varint(1, dim)) // dim { dim_value }
      })
    }),
  )
}

export function buildProbeModel(): Uint8Array {
  return new ProtoWriter()
    .varint(1, IR_VERSION) // ModelProto.ir_version
    .string(2, 'dd-studio') // producer_name
    .message(7, (graph) => {
      graph.message(1, (node) => {
        node.string(1, 'x').string(1, 'x').string(2, 'y').string(3, 'double').string(4, 'Add')
      })
      graph.string(2, 'provider_probe')
      graph.message(11, (input) => tensorValueInfo(input, 'x'))
      graph.message(12, (output) => tensorValueInfo(output, 'y'))
    })
    .message(8, (opset) => opset.string(1, '').varint(2, OPSET)) // opset_import
    .finish()
}
