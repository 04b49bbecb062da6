package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code apply RELEASE.tgz -o OUT.tgz}: the archive's ELF entries are one install for the resolver, as an
 * extracted tree would be. Each install is built here by the real compiler, packed as a release archive,
 * patched, extracted under the {@code --prefix} it was patched for and run by the real loader (aarch64
 * under qemu-user); the marker shim says which file the loader opened.
 */
class ArchiveResolutionTest {
    private static final String NVML = LoaderWorld.NVML;
    private static final ObjectMapper JSON = new ObjectMapper();


    /** Packs the world's {@code bin/} and {@code lib/} as a release archive; {@code modes} override entry modes. */
    private static Path pack(LoaderWorld w, Path out, Map<String, Integer> modes) throws Exception {
        try (OutputStream raw = new BufferedOutputStream(Files.newOutputStream(out));
             TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(raw), "UTF-8")) {
            for (String d : List.of("bin", "lib")) {
                TarArchiveEntry dir = new TarArchiveEntry(d + "/");
                dir.setMode(040755);
                tar.putArchiveEntry(dir);
                tar.closeArchiveEntry();
                try (var s = Files.list(w.root.resolve(d))) {
                    for (Path p : s.sorted().toList()) {
                        String name = d + "/" + p.getFileName();
                        TarArchiveEntry e = new TarArchiveEntry(p.toFile(), name);
                        e.setMode(0100000 | modes.getOrDefault(name, 0755));
                        e.setIds(0, 0);
                        tar.putArchiveEntry(e);
                        Files.copy(p, tar);
                        tar.closeArchiveEntry();
                    }
                }
            }
        }
        return out;
    }

    /** Entry names of an archive, in order. */
    private static List<String> names(Path archive) throws Exception {
        List<String> out = new ArrayList<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new GzipCompressorInputStream(
                new BufferedInputStream(Files.newInputStream(archive))))) {
            for (TarArchiveEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) out.add(e.getName());
        }
        return out;
    }

    /** A directory to extract into, readable by the unprivileged user one case runs as. */
    private static Path prefix(LoaderWorld w) throws Exception {
        Path x = Files.createDirectory(Path.of(w.root + ".x"));
        Files.setPosixFilePermissions(x, PosixFilePermissions.fromString("rwxr-xr-x"));
        return x;
    }

    /** GNU tar as root keeps owners and modes, set-id bits included. */
    private static void extract(Path archive, Path into) throws Exception {
        LoaderWorld.Run r = LoaderWorld.exec(List.of("tar", "-xzpf", archive.toString(), "-C", into.toString()), Map.of(), into);
        assertEquals(0, r.exit(), r.err());
    }

    private static JsonNode retargeted(Cli.Result r, String entry) throws Exception {
        List<JsonNode> sites = new ArrayList<>();
        for (JsonNode f : JSON.readTree(r.out()).get("files")) {
            if (!f.get("path").asText().equals(entry)) continue;
            for (JsonNode s : f.get("sites")) if (s.get("action").asText().equals("retarget")) sites.add(s);
        }
        assertEquals(1, sites.size(), r::toString);
        return sites.get(0);
    }

    private static void cleanUp(Path... dirs) throws Exception {
        for (Path dir : dirs) {
            if (!Files.exists(dir)) continue;
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aLibraryWhoseDlopenIsTailCalledFromBinGetsTheShimBesideTheCallingProgramInTheArchive(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "arc-tail")) {
            w.build(w.cc(), "lib/libtail.so", """
                    #include <dlfcn.h>
                    void *open_nvml(int flags) { return dlopen("%s", flags); }
                    """.formatted(NVML), "-O2", "-fPIC", "-shared");
            w.build(w.cc(), "bin/app", """
                    #include <stdio.h>
                    void *open_nvml(int flags);
                    int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                    """, "-O2", "-L" + w.root.resolve("lib"), "-ltail", "-Wl,-rpath,$ORIGIN/../lib");
            Path shim = w.markerShim(w.cc());
            Path x = prefix(w);
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), Map.of());
            Path out = Path.of(w.root + ".src/patched.tgz");
            try {
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", x, "--json");
                assertEquals(0, r.exit(), r::toString);
                JsonNode res = retargeted(r, "lib/libtail.so").get("resolution");
                assertEquals("tail-call", res.get("how").asText(), r::toString);
                assertEquals(List.of(x.resolve("bin/nvml.so").toString()), List.of(res.get("opens").get(0).asText()));
                assertEquals(1, res.get("opens").size(), res::toString);
                assertEquals(x.resolve("bin/app").toString(), res.get("caller").asText());
                // The shim entry where the loader looks, not beside the library that holds the string.
                List<String> names = names(out);
                assertTrue(names.contains("bin/nvml.so"), names::toString);
                assertFalse(names.contains("lib/nvml.so"), names::toString);

                Cli.Result text = Cli.run("apply", in, "-o", Path.of(w.root + ".src/text.tgz"), "--shim", shim, "--prefix", x);
                assertEquals(0, text.exit(), text::toString);
                assertTrue((text.out() + text.err()).contains("loader opens `" + x.resolve("bin/nvml.so") + "`: `" + x.resolve("lib/libtail.so")
                        + "` jumps to dlopen at 0x"), text::toString);

                extract(out, x);
                LoaderWorld.Run run = w.run(x.resolve("bin/app"), null);
                assertEquals(List.of(x.resolve("bin/nvml.so")), run.loadedFiles(), run::toString);
                assertTrue(run.out().contains("handle=ok"), run::toString);
            } finally {
                cleanUp(x);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void ordinaryCallsInAProgramAndALibraryEachGetTheShimBesideThem(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "arc-call")) {
            // Not a tail call: the library's function does more after dlopen returns.
            w.build(w.cc(), "lib/libcall.so", """
                    #include <dlfcn.h>
                    #include <stdio.h>
                    int lib_open(void) {
                        void *h = dlopen("%s", RTLD_NOW);
                        printf("lib handle=%%s\\n", h ? "ok" : "none");
                        return h != 0;
                    }
                    """.formatted(NVML), "-O2", "-fPIC", "-shared");
            w.build(w.cc(), "bin/app", LoaderWorld.callsDlopen(NVML), "-O2");
            w.build(w.cc(), "bin/vialib", """
                    int lib_open(void);
                    int main(void) { return lib_open() ? 0 : 1; }
                    """, "-O2", "-L" + w.root.resolve("lib"), "-lcall", "-Wl,-rpath,$ORIGIN/../lib");
            Path shim = w.markerShim(w.cc());
            Path x = prefix(w);
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), Map.of());
            Path out = Path.of(w.root + ".src/patched.tgz");
            try {
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", x, "--json");
                assertEquals(0, r.exit(), r::toString);
                JsonNode app = retargeted(r, "bin/app").get("resolution");
                assertEquals("call", app.get("how").asText(), r::toString);
                assertEquals(x.resolve("bin/nvml.so").toString(), app.get("opens").get(0).asText());
                JsonNode lib = retargeted(r, "lib/libcall.so").get("resolution");
                assertEquals("call", lib.get("how").asText(), r::toString);
                assertEquals(x.resolve("lib/nvml.so").toString(), lib.get("opens").get(0).asText());
                List<String> names = names(out);
                assertTrue(names.containsAll(List.of("bin/nvml.so", "lib/nvml.so")), names::toString);

                extract(out, x);
                LoaderWorld.Run run = w.run(x.resolve("bin/app"), null);
                assertEquals(List.of(x.resolve("bin/nvml.so")), run.loadedFiles(), run::toString);
                assertTrue(run.out().contains("handle=ok"), run::toString);
                LoaderWorld.Run viaLib = w.run(x.resolve("bin/vialib"), null);
                assertEquals(0, viaLib.exit(), viaLib::toString);
                // The library was found through the program's rpath $ORIGIN/../lib: its $ORIGIN is bin/../lib.
                assertEquals(List.of(x.resolve("lib/nvml.so")), viaLib.loadedFiles().stream().map(Path::normalize).toList(),
                        viaLib::toString);
            } finally {
                cleanUp(x);
            }
        }
    }

    @Test
    void aSetUidEntryGetsAnAbsolutePathUnderThePrefixThatANormalUserLoads() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "arc-suid")) {
            w.build("gcc", "bin/app", LoaderWorld.callsDlopen(NVML), "-O2");
            Path shim = w.markerShim("gcc");
            Path x = prefix(w);
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), Map.of("bin/app", 04755));
            Path out = Path.of(w.root + ".src/patched.tgz");
            try {
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", x, "--json");
                assertEquals(0, r.exit(), r::toString);
                JsonNode site = retargeted(r, "bin/app");
                String absolute = x.resolve("bin/nvml.so").toString();
                assertTrue(site.get("replacement").asText().endsWith("/" + absolute), site::toString);
                assertTrue(site.get("resolution").get("blocker").asText().contains("set-user-ID"), site::toString);

                extract(out, x);
                assertEquals(04755, (Integer) Files.getAttribute(x.resolve("bin/app"), "unix:mode") & 07777);
                LoaderWorld.Run run = w.run(x.resolve("bin/app"), "nobody");
                assertEquals(List.of(Path.of(absolute)), run.loadedFiles(), run::toString);
            } finally {
                cleanUp(x);
            }
        }
    }

    @Test
    void aSetUidEntryWhoseSiteCannotHoldAnAbsolutePathIsRefusedAndNothingIsWritten() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "arc-refuse")) {
            w.build("gcc", "bin/app", LoaderWorld.callsDlopen("libnvidia-ml.so.1"), "-O2");
            Path shim = w.markerShim("gcc");
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), Map.of("bin/app", 06755));
            Path outDir = Files.createDirectory(Path.of(w.root + ".out"));
            try {
                Path out = outDir.resolve("patched.tgz");
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", "/usr/local");
                assertEquals(5, r.exit(), r::toString);
                assertTrue(r.err().contains("entry bin/app"), r::toString);
                assertTrue(r.err().contains("secure-execution"), r::toString);
                assertTrue(r.err().contains("give --shim-path with an absolute path of at most 17 bytes"), r::toString);
                try (var s = Files.list(outDir)) {
                    assertEquals(List.of(), s.toList(), "nothing written, nothing left behind");
                }
                Cli.Result fits = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", "/o",
                        "--shim-path", "/o/bin/nvml.so", "--json");
                assertEquals(0, fits.exit(), fits::toString);
                assertTrue(retargeted(fits, "bin/app").get("replacement").asText().endsWith("///o/bin/nvml.so"), fits::toString);
                assertTrue(names(out).contains("bin/nvml.so"));
            } finally {
                cleanUp(outDir);
            }
        }
    }

    @Test
    void anEntryWithFileCapabilitiesInItsPaxRecordsGetsAnAbsolutePathThatANormalUserLoads() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "arc-caps")) {
            Path app = w.build("gcc", "bin/app", LoaderWorld.callsDlopen(NVML), "-O2");
            assertEquals(0, LoaderWorld.exec(List.of("setcap", "cap_net_bind_service+ep", app.toString()), Map.of(), w.root).exit());
            Path shim = w.markerShim("gcc");
            Path x = prefix(w);
            // GNU tar keeps the capability as the PAX record SCHILY.xattr.security.capability.
            Path in = Path.of(w.root + ".src/release.tgz");
            Path out = Path.of(w.root + ".src/patched.tgz");
            List<String> xattrs = List.of("--xattrs", "--xattrs-include=security.capability");
            List<String> pack = new ArrayList<>(List.of("tar"));
            pack.addAll(xattrs);
            pack.addAll(List.of("-czf", in.toString(), "-C", w.root.toString(), "bin"));
            assertEquals(0, LoaderWorld.exec(pack, Map.of(), w.root).exit());
            try {
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", x, "--json");
                assertEquals(0, r.exit(), r::toString);
                JsonNode site = retargeted(r, "bin/app");
                String absolute = x.resolve("bin/nvml.so").toString();
                assertTrue(site.get("replacement").asText().endsWith("/" + absolute), site::toString);
                assertTrue(site.get("resolution").get("blocker").asText().contains("file capabilities"), site::toString);

                List<String> unpack = new ArrayList<>(List.of("tar"));
                unpack.addAll(xattrs);
                unpack.addAll(List.of("-xzpf", out.toString(), "-C", x.toString()));
                assertEquals(0, LoaderWorld.exec(unpack, Map.of(), x).exit());
                LoaderWorld.Run caps = LoaderWorld.exec(List.of("getcap", x.resolve("bin/app").toString()), Map.of(), x);
                assertTrue(caps.out().contains("cap_net_bind_service=ep"), caps::toString);
                LoaderWorld.Run run = w.run(x.resolve("bin/app"), "nobody");
                assertEquals(List.of(Path.of(absolute)), run.loadedFiles(), run::toString);
            } finally {
                cleanUp(x);
            }
        }
    }

    @Test
    void aMuslProgramInAnArchiveGetsAnAbsolutePathBecauseMuslNeverExpandsOriginInDlopen() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "arc-musl")) {
            w.build("musl-gcc", "bin/app", LoaderWorld.callsDlopen(NVML), "-O2");
            Path shim = w.markerShim("musl-gcc");
            Path x = prefix(w);
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), Map.of());
            Path out = Path.of(w.root + ".src/patched.tgz");
            try {
                Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--prefix", x, "--json");
                assertEquals(0, r.exit(), r::toString);
                JsonNode site = retargeted(r, "bin/app");
                String absolute = x.resolve("bin/nvml.so").toString();
                assertTrue(site.get("replacement").asText().endsWith("/" + absolute), site::toString);
                assertTrue(site.get("resolution").get("blocker").asText().contains("musl"), site::toString);
                extract(out, x);
                LoaderWorld.Run run = w.run(x.resolve("bin/app"), null);
                assertEquals(List.of(Path.of(absolute)), run.loadedFiles(), run::toString);
            } finally {
                cleanUp(x);
            }
        }
    }

    @Test
    void scanOfAnArchiveShowsEachSitesResolution() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "arc-scan")) {
            w.build("gcc", "bin/app", LoaderWorld.callsDlopen(NVML), "-O2");
            Path in = pack(w, Path.of(w.root + ".src/release.tgz"), new TreeMap<>());
            Cli.Result r = Cli.run("scan", in, "--prefix", "/opt/o", "--json");
            assertEquals(0, r.exit(), r::toString);
            JsonNode site = null;
            for (JsonNode f : JSON.readTree(r.out()).get("files")) {
                for (JsonNode s : f.get("sites")) if (s.has("resolution")) site = s;
            }
            assertTrue(site != null, r::toString);
            assertEquals("/opt/o/bin/nvml.so", site.get("resolution").get("opens").get(0).asText(), r::toString);
        }
    }
}
