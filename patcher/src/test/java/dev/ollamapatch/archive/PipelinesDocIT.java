package dev.ollamapatch.archive;

import dev.ollamapatch.cli.Main;
import dev.ollamapatch.cli.Version;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs the recipes of docs/pipelines.md as they are written there: the shell recipe and every
 * {@code run:} step of the CI job with bash, the Dockerfile's build stage ({@code ARG}, {@code WORKDIR},
 * {@code ADD} as a download, {@code RUN} with bash). Downloads come from a directory holding an
 * Ollama-like release built from the fixtures (gen-b as {@code bin/ollama}, generation B like
 * Ollama 0.24), its sha256sum.txt, and a tool tarball laid out like the release artifact whose
 * {@code bin/ollama-patch} runs this build of the tool. The patched {@code bin/ollama} is then run
 * with the bundled shim in virtual mode and must report the configured device.
 */
class PipelinesDocIT {
    private static final Path DOC = Path.of(System.getProperty("user.dir")).resolve("../docs/pipelines.md").normalize();

    private Path work;
    private Path downloads;
    private Path fakeBin;

    @BeforeEach
    void downloadsAndCommands() throws Exception {
        work = ReleaseArchives.shortDirectory(); // short: gen-a's glob sites hold 26 bytes
        downloads = Files.createDirectories(work.resolve("dl"));
        fakeBin = Files.createDirectories(work.resolve("fb"));
        Path release = ReleaseArchives.write(downloads.resolve("ollama-linux-amd64.tar.zst"), false, 0);
        Files.writeString(downloads.resolve("sha256sum.txt"),
                Checksums.sha256(release) + "  ./ollama-linux-amd64.tar.zst\n");
        toolTarball(downloads);
        // curl -fsSLO URL: the file named by the URL's last segment, from the downloads directory.
        script(fakeBin.resolve("curl"), """
                #!/bin/bash
                for a in "$@"; do case "$a" in http*://*) url=$a ;; esac; done
                f="%s/${url##*/}"
                [ -f "$f" ] || { echo "curl: (22) The requested URL returned error: 404 ($url)" >&2; exit 22; }
                cp "$f" .
                """.formatted(downloads));
        // apt-get in a build stage: the packages it asks for must be what the recipe's later steps use,
        // and installed here; nothing is installed.
        script(fakeBin.resolve("apt-get"), """
                #!/bin/bash
                [ "$1" = update ] && exit 0
                for p in "$@"; do case "$p" in -*|install) ;; *) dpkg -s "$p" >/dev/null 2>&1 || { echo "apt-get: $p is not installed on the test machine" >&2; exit 100; } ;; esac; done
                """);
    }

    @AfterEach
    void cleanUp() throws IOException {
        ReleaseArchives.delete(work);
    }

    @Test
    void thePlainShellRecipeRunsAndItsOllamaLoadsTheShim() throws Exception {
        String recipe = block("### A plain shell recipe", "sh");
        Path prefix = work.resolve("p");
        Path dir = Files.createDirectories(work.resolve("sh"));
        Run r = bash(dir, recipe, Map.of("PREFIX", prefix.toString()));
        assertEquals(0, r.exit, r.toString());
        assertTrue(r.out.contains("patched") || r.out.contains("already patched"), "scan of the result: " + r);
        assertLoadsTheShim(prefix.resolve("bin/ollama"));
    }

    @Test
    void theDockerfilesBuildStageRunsAndItsOllamaLoadsTheShim() throws Exception {
        String dockerfile = block("### A multi-stage Dockerfile", "dockerfile");
        Path workdir = Files.createDirectories(work.resolve("d")); // "/" before WORKDIR, then WORKDIR
        Map<String, String> args = new LinkedHashMap<>();
        int stages = 0;
        for (String line : logicalLines(dockerfile)) {
            String[] w = line.split("\\s+", 2);
            switch (w[0]) {
                case "FROM" -> stages++;
                case "ARG" -> {
                    if (stages == 1) {
                        String[] kv = w[1].split("=", 2);
                        args.put(kv[0], kv.length > 1 ? kv[1] : "");
                    }
                }
                case "WORKDIR" -> workdir = Files.createDirectories(workdir.resolve("w"));
                case "ADD" -> {
                    String[] a = expand(w[1], args).split("\\s+");
                    String name = a[0].substring(a[0].lastIndexOf('/') + 1);
                    Path dst = a[1].equals(".") ? workdir.resolve(name) : workdir.resolve(a[1]);
                    Files.copy(downloads.resolve(name), dst);
                }
                case "RUN" -> {
                    if (stages != 1) break;
                    Run r = bash(workdir, w[1], args);
                    assertEquals(0, r.exit, "RUN " + w[1] + "\n" + r);
                }
                default -> { }
            }
        }
        assertEquals(2, stages, "a build stage and a final stage");
        // COPY --from=patch /work/out/ /usr/ : the final image's /usr/bin/ollama is out/bin/ollama.
        assertTrue(Files.isRegularFile(workdir.resolve("report.json")));
        assertLoadsTheShim(workdir.resolve("out/bin/ollama"));
    }

    @Test
    void everyRunStepOfTheCiJobRunsAndTheArtifactsItUploadsExist() throws Exception {
        String yaml = block("### A CI job", "yaml");
        Map<String, String> env = new LinkedHashMap<>();
        List<String> runs = new ArrayList<>();
        List<String> uploads = new ArrayList<>();
        List<String> lines = yaml.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            Matcher kv = Pattern.compile("^    ([A-Z_]+): \"?([^\"]*)\"?$").matcher(l);
            if (kv.matches()) env.put(kv.group(1), kv.group(2));
            int indent = l.indexOf(l.strip());
            if (l.strip().equals("run: |") || l.strip().equals("path: |")) {
                StringBuilder b = new StringBuilder();
                int j = i + 1;
                for (; j < lines.size() && (lines.get(j).isBlank() || lines.get(j).indexOf(lines.get(j).strip()) > indent); j++) {
                    b.append(lines.get(j).length() > indent + 2 ? lines.get(j).substring(indent + 2) : "").append('\n');
                }
                (l.strip().startsWith("run") ? runs : uploads).add(b.toString());
                i = j - 1;
            }
        }
        assertEquals(3, runs.size(), "fetch, patch, check: " + runs);
        Path dir = Files.createDirectories(work.resolve("ci"));
        for (String run : runs) {
            Run r = bash(dir, run, env);
            assertEquals(0, r.exit, run + "\n" + r);
        }
        for (String p : String.join("", uploads).strip().split("\n")) {
            String name = p.strip().replaceAll("\\$\\{\\{ env\\.([A-Z_]+) }}", "\\$$1");
            assertTrue(Files.isRegularFile(dir.resolve(expand(name, env))), "artifact " + p + " was not made");
        }
    }

    /** The patched binary, run with the bundled shim answering from a virtual-mode config. */
    private void assertLoadsTheShim(Path ollama) throws Exception {
        Path conf = work.resolve("shim.conf");
        Files.writeString(conf, """
                [shim]
                mode = virtual
                driver_version = 570.86.15
                [device.0]
                name = NVIDIA H100 PCIe
                uuid = %s
                pci_bus_id = 00000000:00:05.0
                memory_total = 85899345920
                compute_capability = 9.0
                """.formatted(ReleaseArchives.STUB_UUID));
        Fixtures.Run run = Fixtures.run("x86_64", ollama, Map.of("FIXTURE_GPU_UUIDS", ReleaseArchives.STUB_UUID,
                "OLLAMA_PATCH_SHIM_CONFIG", conf.toString()));
        assertTrue(run.stdout().contains("discovery: nvml=ok driver=n/a devices=1"), run.toString());
        assertTrue(run.stdout().contains("name=NVIDIA H100 PCIe"), run.toString());
    }

    /** The release artifact's layout with a bin/ollama-patch that runs this build of the tool. */
    private static void toolTarball(Path downloads) throws Exception {
        String top = "ollama-patch-" + Version.VERSION + "-linux-x86_64";
        Path stage = Files.createTempDirectory("tool");
        Path bin = Files.createDirectories(stage.resolve(top).resolve("bin"));
        script(bin.resolve("ollama-patch"), "#!/bin/sh\nexec '" + Path.of(System.getProperty("java.home"), "bin", "java")
                + "' -cp '" + System.getProperty("java.class.path") + "' " + Main.class.getName() + " \"$@\"\n");
        Process p = new ProcessBuilder("tar", "-czf", downloads.resolve(top + ".tar.gz").toString(), "-C", stage.toString(), top)
                .inheritIO().start();
        assertEquals(0, p.waitFor());
        ReleaseArchives.delete(stage);
    }

    private static void script(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** The first fenced block of {@code lang} after {@code heading} in docs/pipelines.md. */
    private static String block(String heading, String lang) throws IOException {
        String doc = Files.readString(DOC);
        int h = doc.indexOf("\n" + heading + "\n");
        assertTrue(h >= 0, "docs/pipelines.md has no heading " + heading);
        int start = doc.indexOf("```" + lang + "\n", h);
        assertTrue(start >= 0, "no ```" + lang + " block after " + heading);
        start += 4 + lang.length();
        return doc.substring(start, doc.indexOf("\n```", start) + 1);
    }

    /** Dockerfile lines with their backslash continuations joined. */
    private static List<String> logicalLines(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder b = new StringBuilder();
        for (String l : text.lines().toList()) {
            if (l.isBlank() || l.startsWith("#")) continue;
            if (l.endsWith("\\")) { b.append(l, 0, l.length() - 1).append(' '); continue; }
            out.add(b.append(l).toString().strip());
            b.setLength(0);
        }
        return out;
    }

    private static String expand(String s, Map<String, String> vars) {
        for (Map.Entry<String, String> e : vars.entrySet()) {
            s = s.replace("${" + e.getKey() + "}", e.getValue()).replace("$" + e.getKey(), e.getValue());
        }
        return s;
    }

    private record Run(int exit, String out, String err) {
        @Override public String toString() { return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err; }
    }

    private Run bash(Path dir, String script, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-eo", "pipefail", "-c", script).directory(dir.toFile());
        pb.environment().putAll(env);
        pb.environment().put("PATH", fakeBin + ":" + System.getenv("PATH"));
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + script);
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
