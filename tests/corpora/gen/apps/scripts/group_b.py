import asyncio


async def fetch(name, delay):
    await asyncio.sleep(delay)
    raise ConnectionError(f"feed {name!r} refused the connection")


async def main():
    async with asyncio.TaskGroup() as tg:
        tg.create_task(fetch("prices", 0.01))
        tg.create_task(fetch("stock", 0.02))


asyncio.run(main())
