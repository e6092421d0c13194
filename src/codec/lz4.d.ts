// Types for the parts of the `lz4` package (0.6.x, native block API) that flexfs uses.
declare module 'lz4' {
  /** Worst-case compressed size of `inputSize` bytes. */
  export function encodeBound(inputSize: number): number;
  /** Compresses `input` into `output`; returns the compressed length (0 when it does not fit). */
  export function encodeBlock(input: Uint8Array, output: Uint8Array, startIdx?: number, endIdx?: number): number;
  /** Safe block decoder: returns the decoded length, or a negative number on malformed input. */
  export function decodeBlock(input: Uint8Array, output: Uint8Array, startIdx?: number, endIdx?: number): number;
  const lz4: { encodeBound: typeof encodeBound; encodeBlock: typeof encodeBlock; decodeBlock: typeof decodeBlock };
  export default lz4;
}
