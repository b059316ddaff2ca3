/**
 * The converter's command line as main builds and reads it (main/services/converterCli.ts): the interpreter
 * it picks, the argument array of each family, the JSON lines of `--progress json`, the object `check`
 * prints, and the instructions for a missing Python, torch or onnx.
 */
import { describe, expect, it } from 'vitest'
import {
  checkInstructions,
  choosePython,
  converterArgs,
  parseCheckOutput,
  parseConverterLine,
} from '../../main/services/converterCli.ts'

describe('choosePython', () => {
  it('takes DDSTUDIO_PYTHON first, then /usr/bin/python3 where it exists, then python3 on the PATH', () => {
    const yes = () => true
    const no = () => false
    expect(choosePython({ DDSTUDIO_PYTHON: '/opt/venv/bin/python' }, yes, 'linux')).toEqual({
      interpreter: '/opt/venv/bin/python',
      from: 'DDSTUDIO_PYTHON',
    })
    expect(choosePython({ DDSTUDIO_PYTHON: '  ' }, yes, 'linux')).toEqual({
      interpreter: '/usr/bin/python3',
      from: 'system',
    })
    expect(choosePython({}, no, 'linux')).toEqual({ interpreter: 'python3', from: 'PATH' })
    expect(choosePython({}, yes, 'win32')).toEqual({ interpreter: 'python3', from: 'PATH' })
  })
})

describe('converterArgs', () => {
  const files = { student: '/d/s.pt', teacher: '/d/my teacher.pt', tokenizer: '/d/vq.pt' }

  it('builds the LlamaGen command with --size and --vq, paths as single arguments', () => {
    expect(converterArgs({ family: 'llamagen', size: 'B', ...files }, '/m/.convert-1/pack')).toEqual([
      '-m',
      'convert',
      'llamagen',
      '--size',
      'B',
      '--student',
      '/d/s.pt',
      '--teacher',
      '/d/my teacher.pt',
      '--vq',
      '/d/vq.pt',
      '--out',
      '/m/.convert-1/pack',
      '--progress',
      'json',
    ])
  })

  it('builds the VAR command with --depth and --vae, and passes --id and --fp16 when asked', () => {
    const args = converterArgs({ family: 'var', size: '20', ...files, id: 'var-d20', fp16: true }, '/o')
    expect(args.slice(2, 5)).toEqual(['var', '--depth', '20'])
    expect(args[args.indexOf('--vae') + 1]).toBe('/d/vq.pt')
    expect(args).not.toContain('--vq')
    expect(args.slice(-5)).toEqual(['--id', 'var-d20', '--fp16', '--progress', 'json'])
    expect(converterArgs({ family: 'var', size: '16', ...files, fp16: false }, '/o')).not.toContain('--fp16')
  })
})

describe('parseConverterLine', () => {
  it('reads progress, done and error events', () => {
    expect(parseConverterLine('{"event":"progress","stage":"loading student","done":1,"total":3}')).toEqual({
      event: 'progress',
      stage: 'loading student',
      done: 1,
      total: 3,
    })
    expect(parseConverterLine('{"event":"done","pack":"/m/p","id":"llamagen-b"}\r')).toEqual({
      event: 'done',
      pack: '/m/p',
      id: 'llamagen-b',
    })
    const message = "/d/s.pt: not a LlamaGen-DD student: missing keys 'ema'"
    expect(parseConverterLine(JSON.stringify({ event: 'error', message }))).toEqual({
      event: 'error',
      message,
    })
  })

  it('treats anything else as a line to log, never as an event', () => {
    for (const line of [
      'Loading weights...',
      '{"event":"progress","stage":"x","done":-1,"total":3}',
      '{"event":"progress","stage":"x","done":1}',
      '{"event":"done","pack":""}',
      '{"event":"finished"}',
      '{not json',
      '[1,2]',
      '',
    ])
      expect(parseConverterLine(line).event, line).toBe('other')
  })
})

describe('parseCheckOutput', () => {
  it('reads the check object, versions as strings or objects with a version', () => {
    expect(
      parseCheckOutput(
        '{"python":"3.11.2","torch":"1.13.1","onnx":{"version":"1.14.1"},"ok":true,"problems":[]}\n',
      ),
    ).toEqual({ ok: true, python: '3.11.2', torch: '1.13.1', onnx: '1.14.1', problems: [] })
    expect(
      parseCheckOutput('{"python":"3.12.1","torch":null,"onnx":null,"ok":false,"problems":["no torch"]}'),
    ).toEqual({ ok: false, python: '3.12.1', torch: null, onnx: null, problems: ['no torch'] })
  })

  it('says what is wrong with output that is not the check object', () => {
    expect(parseCheckOutput('')).toEqual({ error: 'it printed nothing' })
    expect(parseCheckOutput('Traceback (most recent call last)')).toEqual({
      error: 'it printed something that is not JSON: Traceback (most recent call last)',
    })
    expect(parseCheckOutput('{"python":"3.11"}')).toMatchObject({ error: expect.stringMatching(/lacks ok/) })
  })
})

describe('checkInstructions', () => {
  it('names the interpreter and why it was chosen, and how to install what is missing', () => {
    const steps = checkInstructions(
      { interpreter: '/usr/bin/python3', from: 'system' },
      { ran: true, torch: null, onnx: null, converter: true },
    )
    expect(steps[0]).toBe("DD Studio ran the system's /usr/bin/python3 (DDSTUDIO_PYTHON is not set).")
    expect(steps[1]).toMatch(/^Install PyTorch into that Python: \/usr\/bin\/python3 -m pip install torch/)
    expect(steps[2]).toBe('Install onnx into that Python: /usr/bin/python3 -m pip install onnx')
    expect(steps[3]).toMatch(/set DDSTUDIO_PYTHON/)

    const onlyOnnx = checkInstructions(
      { interpreter: 'C:\\Program Files\\Python312\\python.exe', from: 'DDSTUDIO_PYTHON' },
      { ran: true, torch: '2.3.0', onnx: null, converter: true },
    )
    expect(onlyOnnx[0]).toMatch(/named by the DDSTUDIO_PYTHON environment variable/)
    expect(onlyOnnx.some((s) => s.includes('pip install torch'))).toBe(false)
    // A path with spaces is quoted, so the command can be pasted as it is.
    expect(onlyOnnx).toContain(
      'Install onnx into that Python: "C:\\Program Files\\Python312\\python.exe" -m pip install onnx',
    )
  })

  it('for a Python that did not run: install one or set DDSTUDIO_PYTHON', () => {
    const steps = checkInstructions(
      { interpreter: 'python3', from: 'PATH' },
      { ran: false, torch: null, onnx: null, converter: false },
    )
    expect(steps[0]).toMatch(/ran python3 from the PATH/)
    expect(steps[1]).toMatch(/Install Python 3\.10 or newer.*DDSTUDIO_PYTHON/)
    expect(steps).toHaveLength(2)
  })
})
