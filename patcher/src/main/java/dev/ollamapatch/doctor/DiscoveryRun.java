package dev.ollamapatch.doctor;

import dev.ollamapatch.ollama.Generation;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code doctor --run}: starts the patched Ollama's own GPU discovery in a network namespace of its
 * own ({@code unshare -n}; as non-root {@code unshare -rn}), with the shim's trace turned on through a
 * copy of its config, and reports what Ollama concluded (its {@code msg="inference compute"} lines)
 * and which NVML calls the shim answered (the trace).
 */
final class DiscoveryRun {
    private static final Pattern TRACE = Pattern.compile("pid=\\d+ tid=\\d+ (#?\\w+)\\(.*?\\) = (-?\\d+) (\\w+)");
    private static final Pattern TRACE_CONFIG = Pattern.compile("pid=\\d+ tid=\\d+ #config\\((.*)");

    record Result(List<String> command, int exit, boolean timedOut, List<String> inferenceCompute, List<String> warnings,
                  Map<String, Integer> calls, List<String> failedCalls, List<String> traceConfig, String isolation) {}

    private DiscoveryRun() {}

    /** Writes a copy of {@code config} with {@code trace = traceFile} in its [shim] section. */
    static String tracedConfig(String config, Path traceFile) {
        StringBuilder out = new StringBuilder();
        boolean inShim = false;
        boolean placed = false;
        for (String line : config.split("\n", -1)) {
            String t = line.strip();
            if (t.startsWith("[")) {
                if (inShim && !placed) {
                    out.append("trace = ").append(traceFile).append('\n');
                    placed = true;
                }
                inShim = t.startsWith("[shim]");
            }
            if (inShim && t.matches("trace\\s*=.*")) continue;  // replaced below
            out.append(line).append('\n');
        }
        if (!placed) {
            if (inShim) out.append("trace = ").append(traceFile).append('\n');
            else out.insert(0, "[shim]\ntrace = " + traceFile + "\n");
        }
        return out.toString();
    }

    static Result run(Path binary, Generation g, Path configFile, Map<String, String> env, int timeoutS) throws IOException {
        Path dir = Files.createTempDirectory("ollama-patch-run");
        try {
            Path trace = dir.resolve("nvml-trace.log");
            String config = configFile != null && Files.isRegularFile(configFile)
                    ? Files.readString(configFile, StandardCharsets.ISO_8859_1) : "[shim]\nmode = forward\n";
            Path copy = dir.resolve("shim.conf");
            Files.writeString(copy, tracedConfig(config, trace), StandardCharsets.ISO_8859_1);
            boolean root = "root".equals(System.getProperty("user.name"));
            List<String> cmd = new ArrayList<>(root ? List.of("unshare", "-n") : List.of("unshare", "-r", "-n"));
            boolean serve = g != Generation.C;
            if (serve) {
                // A new network namespace starts with its loopback down; serve must listen on it first.
                cmd.addAll(List.of("sh", "-c", "ip link set lo up 2>/dev/null || true; exec \"$0\" \"$@\""));
            }
            cmd.add(binary.toString());
            cmd.add(serve ? "serve" : "gpu-discover");
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(env);
            pb.environment().put("OLLAMA_PATCH_SHIM_CONFIG", copy.toString());
            pb.environment().put("OLLAMA_HOST", "127.0.0.1:11434");
            pb.environment().put("OLLAMA_DEBUG", "1");
            Path out = dir.resolve("out");
            pb.redirectErrorStream(true).redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Process p = pb.start();
            boolean timedOut = false;
            boolean stopped = false;
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS);
                long concludedAt = 0;
                while (p.isAlive()) {
                    if (System.nanoTime() > deadline) {
                        timedOut = true;
                        break;
                    }
                    // serve keeps running after discovery: stop it a second after its conclusion.
                    if (serve && concludedAt == 0 && Files.readString(out, StandardCharsets.UTF_8).contains("msg=\"inference compute\"")) {
                        concludedAt = System.nanoTime();
                    }
                    if (concludedAt != 0 && System.nanoTime() - concludedAt > TimeUnit.SECONDS.toNanos(1)) {
                        stopped = true;
                        break;
                    }
                    p.waitFor(200, TimeUnit.MILLISECONDS);
                }
                if (p.isAlive()) {
                    p.descendants().forEach(ProcessHandle::destroy);
                    p.destroy();
                    if (!p.waitFor(5, TimeUnit.SECONDS)) {
                        p.descendants().forEach(ProcessHandle::destroyForcibly);
                        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                    }
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running discovery");
            }
            List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
            List<String> compute = new ArrayList<>();
            List<String> warnings = new ArrayList<>();
            for (String l : lines) {
                if (l.contains("msg=\"inference compute\"")) compute.add(l.replaceFirst("^time=\\S+ ", ""));
                else if (l.contains("level=WARN") || l.contains("level=ERROR") || l.startsWith("unshare:") || l.startsWith("Error:")) {
                    warnings.add(l.replaceFirst("^time=\\S+ ", ""));
                }
            }
            Map<String, Integer> calls = new LinkedHashMap<>();
            List<String> failed = new ArrayList<>();
            List<String> cfg = new ArrayList<>();
            if (Files.exists(trace)) {
                for (String l : Files.readAllLines(trace, StandardCharsets.UTF_8)) {
                    Matcher c = TRACE_CONFIG.matcher(l);
                    if (c.find()) {
                        cfg.add(c.group(1));
                        continue;
                    }
                    Matcher m = TRACE.matcher(l);
                    if (!m.find()) continue;
                    calls.merge(m.group(1), 1, Integer::sum);
                    if (!m.group(2).equals("0")) failed.add(m.group(1) + " = " + m.group(3));
                }
            }
            return new Result(cmd, timedOut || stopped ? -1 : p.exitValue(), timedOut, compute, warnings, calls,
                    failed.stream().distinct().toList(), cfg, root ? "unshare -n" : "unshare -r -n");
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    static Check check(Result r) {
        List<String> ev = new ArrayList<>();
        ev.add("ran: " + String.join(" ", r.command()) + (r.timedOut() ? " (stopped after the time limit)"
                : r.exit() == -1 ? " (stopped after it concluded)" : " (exit " + r.exit() + ")"));
        r.inferenceCompute().forEach(l -> ev.add("ollama: " + l));
        r.warnings().forEach(l -> ev.add("ollama: " + l));
        r.traceConfig().forEach(l -> ev.add("shim: #config(" + l));
        ev.add("NVML calls the shim answered: " + (r.calls().isEmpty() ? "none" : r.calls().toString()));
        r.failedCalls().forEach(l -> ev.add("shim: failed " + l));
        String nvml = r.calls().isEmpty() ? "the shim answered no NVML call" : "the shim answered " + r.calls().values().stream().mapToInt(i -> i).sum()
                + " NVML calls (" + String.join(", ", r.calls().keySet()) + ")";
        String unshare = r.warnings().stream().filter(l -> l.startsWith("unshare:")).findFirst().orElse(null);
        if (unshare != null && r.inferenceCompute().isEmpty()) {
            return new Check("run.discovery", Status.FAIL, "could not start Ollama in a network namespace of its own (" + unshare + ")", ev,
                    "run the doctor as root, or allow user namespaces (sysctl kernel.unprivileged_userns_clone=1), for --run.");
        }
        List<String> gpus = r.inferenceCompute().stream().filter(l -> !l.contains("library=cpu")).toList();
        if (!gpus.isEmpty()) {
            return new Check("run.discovery", Status.OK, "Ollama found " + gpus.size() + " GPU" + (gpus.size() == 1 ? "" : "s") + "; " + nvml, ev, null);
        }
        if (r.inferenceCompute().isEmpty()) {
            return new Check("run.discovery", Status.FAIL, "Ollama printed no 'inference compute' line" + (r.timedOut() ? " before the time limit" : "") + "; " + nvml, ev,
                    "read the output in this check's evidence (--json) and fix the first failing check above.");
        }
        String why = r.warnings().isEmpty() ? "" : " (" + r.warnings().get(0).replaceFirst("^level=\\w+ source=\\S+ ", "") + ")";
        return new Check("run.discovery", Status.FAIL, "Ollama concluded library=cpu" + why + "; " + nvml, ev,
                r.calls().isEmpty() ? "the patched Ollama never reached the shim: fix the install and host checks above (libcuda, /dev/nvidia*)."
                        : "fix the first failing check above; the shim's answers are in this check's evidence (--json).");
    }
}
