/**
 * A minimal protocol-buffers writer: just enough wire format (varints and length-delimited fields) to
 * build small ONNX graphs in code, so the app needs no binary model file to test an execution provider.
 */

export class ProtoWriter {
  private readonly bytes: number[] = []

  /** Field with wire type 0 (varint): ints, enums, bools. */
  varint(field: number, value: number): this {
    this.tag(field, 0)
    this.rawVarint(value)
    return this
  }

  /** Field with wire type 2 (length-delimited): strings, bytes and nested messages. */
  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, 2)
    this.rawVarint(value.length)
    for (const b of value) this.bytes.push(b)
    return this
  }

  string(field: number, value: string): this {
    return this.bytesField(field, new TextEncoder().encode(value))
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter()
    build(inner)
    return this.bytesField(field, inner.finish())
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes)
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType)
  }

  private rawVarint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`)
    let v = value
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    this.bytes.push(v)
  }
}
