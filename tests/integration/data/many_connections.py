# Opens N connections to allowed.test:80 through the sandbox, all open at once before any
# request is sent, then fetches a page on each; prints "ok <successes> of N open at once <opened>".
import asyncio, resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
N = int(sys.argv[1])
address = socket.getaddrinfo('allowed.test', 80, socket.AF_INET)[0][4][0]
opened = 0
gate = asyncio.Event()
async def one(i):
    global opened
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, 80), 60)
        opened += 1
        if opened == N: gate.set()
        await asyncio.wait_for(gate.wait(), 60)  # all N open at once before any request
        writer.write(b'GET /org/index.html HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n')
        data = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        return b'org page' in data
    except Exception as e:
        gate.set()
        print('error', type(e).__name__, e, file=sys.stderr)
        return False
async def main():
    results = await asyncio.gather(*(one(i) for i in range(N)))
    print('ok', sum(results), 'of', N, 'open at once', opened)
asyncio.run(main())
