"""Host memory over a long run (python scripts/measure_memory.py RUN_DIR): 5,000 logged iterations (one chunk each),
seed_returns.csv + TensorBoard + 10 checkpoints. Prints RSS every 500 iterations."""
import sys, time
sys.path.insert(0, "tests")
from jaxrl.train import enable_compilation_cache, run
from jaxrl import logs
enable_compilation_cache()
from tiny_configs import make_tiny

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

samples = []
original = logs.MetricsWriter.write
def write(self, rows):
    original(self, rows)
    if self.path.name == "metrics.csv" and rows and rows[-1]["iteration"] % 500 == 0:
        samples.append((rows[-1]["iteration"], rss_mb()))
        print(f"iteration {rows[-1]['iteration']:5d}: RSS {samples[-1][1]:.1f} MB", flush=True)
logs.MetricsWriter.write = write
agent, total = make_tiny("ppo", iterations=5000)
t = time.time()
run(agent, logdir=sys.argv[1], total_steps=total, num_seeds=2, num_logs=5000, eval_episodes=2,
    progress=False, tensorboard=True)
print(f"{time.time() - t:.0f}s; RSS growth from iteration 500 to 5000: {samples[-1][1] - samples[0][1]:+.1f} MB")
