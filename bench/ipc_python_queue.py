# Python's usual way to hand frames to another process, as a baseline for ModuleIPC: numpy uint8
# frames (height x width x 3) put on a multiprocessing.Queue by this process and taken off by a
# consumer process that touches nothing else. Prints one line, "frames_per_second <x>", timed from
# the first timed put to the consumer's acknowledgement of the last frame (warm-up frames first).
#
#   /usr/bin/python3 bench/ipc_python_queue.py 1920 1080 100
# Exit 3: numpy is missing (bench/ipc_baselines.cpp reports it and skips).
import multiprocessing
import sys
import time

try:
    import numpy as np
except ImportError:
    print("ipc_python_queue.py: numpy is not installed", file=sys.stderr)
    sys.exit(3)

WARMUP_FRAMES = 5
QUEUE_SIZE = 4  # bounded, as a pipeline's queue would be


def consume(frames, acks, count):
    for _ in range(WARMUP_FRAMES):
        frames.get()
    acks.put(True)
    for _ in range(count):
        frames.get()
    acks.put(True)


def main():
    if len(sys.argv) != 4:
        print("usage: ipc_python_queue.py WIDTH HEIGHT FRAMES", file=sys.stderr)
        return 1
    width, height, count = (int(a) for a in sys.argv[1:])
    frames = multiprocessing.Queue(maxsize=QUEUE_SIZE)
    acks = multiprocessing.Queue()
    consumer = multiprocessing.Process(target=consume, args=(frames, acks, count))
    consumer.start()

    frame = np.full((height, width, 3), 0x5A, dtype=np.uint8)
    for _ in range(WARMUP_FRAMES):
        frames.put(frame)
    acks.get()
    begin = time.perf_counter()
    for _ in range(count):
        frames.put(frame)
    acks.get()
    seconds = time.perf_counter() - begin

    consumer.join()
    if consumer.exitcode != 0:
        print(f"ipc_python_queue.py: consumer exited with {consumer.exitcode}", file=sys.stderr)
        return 1
    print(f"frames_per_second {count / seconds:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
