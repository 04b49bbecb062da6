package dev.ollamapatch.resolve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.TestFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code apply} in place and {@code verify} with resolutions: the shim goes where the loader will look. */
class ResolutionApplyTest {
    private static final String NVML = LoaderWorld.NVML;
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String CALLS_DLOPEN = LoaderWorld.callsDlopen(NVML);

    private static JsonNode onlySite(Cli.Result r, String file) throws Exception {
        JsonNode root = JSON.readTree(r.out());
        List<JsonNode> sites = new ArrayList<>();
        for (JsonNode f : root.get("files")) {
            if (!f.get("path").asText().equals(file)) continue;
            for (JsonNode s : f.get("sites")) if (s.get("action").asText().equals("retarget")) sites.add(s);
        }
        assertEquals(1, sites.size(), r::toString);
        return sites.get(0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aTailCalledDlopenInALibraryGetsTheShimBesideTheCallingProgramAndVerifyChecksIt(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "apply-tail")) {
            Path lib = w.build(w.cc(), "lib/libtail.so", """
                    #include <dlfcn.h>
                    void *open_nvml(int flags) { return dlopen("%s", flags); }
                    """.formatted(NVML), "-O2", "-fPIC", "-shared");
            Path app = w.build(w.cc(), "bin/app", """
                    #include <stdio.h>
                    void *open_nvml(int flags);
                    int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                    """, "-O2", "-L" + w.root.resolve("lib"), "-ltail", "-Wl,-rpath,$ORIGIN/../lib");
            Path shim = w.markerShim(w.cc());

            Cli.Result r = Cli.run("apply", w.root, "--shim", shim, "--json");
            assertEquals(0, r.exit(), r::toString);
            JsonNode site = onlySite(r, lib.toString());
            JsonNode res = site.get("resolution");
            assertEquals("tail-call", res.get("how").asText(), r::toString);
            assertEquals(w.root.resolve("bin/nvml.so").toString(), res.get("opens").get(0).asText());
            assertEquals(1, res.get("opens").size());
            assertEquals(app.toString(), res.get("caller").asText());
            assertTrue(site.get("replacement").asText().endsWith("/$ORIGIN/nvml.so"));
            // The shim where the loader looks, and not beside the library that holds the string.
            assertTrue(Files.isRegularFile(w.root.resolve("bin/nvml.so")));
            assertFalse(Files.exists(w.root.resolve("lib/nvml.so")));

            LoaderWorld.Run run = w.run(app, null);
            assertEquals(List.of(w.root.resolve("bin/nvml.so")), run.loadedFiles(), run::toString);
            assertTrue(run.out().contains("handle=ok"), run::toString);

            Cli.Result ok = Cli.run("verify", w.root);
            assertEquals(0, ok.exit(), ok::toString);

            Path installedShim = w.root.resolve("bin/nvml.so");
            byte[] shimBytes = Files.readAllBytes(installedShim);
            Files.delete(installedShim);
            Cli.Result missing = Cli.run("verify", w.root);
            assertEquals(1, missing.exit(), missing::toString);
            assertTrue(missing.out().contains("resolves to " + installedShim + ", which is missing"), missing::toString);

            // Restore takes the shim away from where the resolution put it, as it installed it there.
            Files.write(installedShim, shimBytes);
            Cli.Result restored = Cli.run("restore", w.root);
            assertEquals(0, restored.exit(), restored::toString);
            assertFalse(Files.exists(installedShim), restored::toString);
            assertTrue(LoaderWorld.offsetOf(lib, NVML) >= 0);
        }
    }

    /** aarch64: run under a qemu given the program's capabilities, as binfmt_misc's C flag would (LoaderWorld). */
    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aProgramWithFileCapabilitiesGetsAnAbsolutePathThatANormalUserLoads(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "apply-caps")) {
            Path app = w.build(w.cc(), "bin/app", CALLS_DLOPEN, "-O2");
            assertEquals(0, LoaderWorld.exec(List.of("setcap", "cap_net_bind_service+ep", app.toString()), Map.of(), w.root).exit());
            Path shim = w.markerShim(w.cc());

            Cli.Result r = Cli.run("apply", w.root, "--shim", shim, "--json");
            assertEquals(0, r.exit(), r::toString);
            JsonNode site = onlySite(r, app.toString());
            String absolute = w.root.resolve("bin/nvml.so").toString();
            assertTrue(site.get("replacement").asText().endsWith("/" + absolute), site::toString);
            assertTrue(site.get("resolution").get("blocker").asText().contains("secure-execution"), site::toString);
            assertTrue(r.err().isEmpty() || !r.err().contains("Exception"), r::toString);

            LoaderWorld.Run run = w.run(app, "nobody");
            assertEquals(List.of(Path.of(absolute)), run.loadedFiles(), run::toString);
            assertEquals(0, Cli.run("verify", w.root).exit());
        }
    }

    @Test
    void verifyNoticesCapabilitiesGivenAfterTheApplyThatStopOriginForANormalUser() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "verify-caps")) {
            Path app = w.build("gcc", "bin/app", CALLS_DLOPEN, "-O2");
            Cli.Result r = Cli.run("apply", w.root, "--shim", w.markerShim("gcc"));
            assertEquals(0, r.exit(), r::toString);
            assertEquals(0, Cli.run("verify", w.root).exit());
            assertEquals(0, LoaderWorld.exec(List.of("setcap", "cap_net_bind_service+ep", app.toString()), Map.of(), w.root).exit());
            Cli.Result v = Cli.run("verify", w.root);
            assertEquals(1, v.exit(), v::toString);
            assertTrue(v.out().contains("site at offset 0x") && v.out().contains("names $ORIGIN, but now loader does not "
                    + "expand $ORIGIN here (`" + app + "` runs in secure-execution mode"), v::toString);
        }
    }

    @Test
    void aMuslProgramWhoseDtNeededEntryCannotHoldAnAbsolutePathIsRefusedAndLeftAsItWas() throws Exception {
        try (LoaderWorld w = new LoaderWorld("x86_64", "apply-muslneed")) {
            w.build("musl-gcc", "lib/libnvidia-ml.so.1", "int nvmlInit_v2(void) { return 0; }\n",
                    "-fPIC", "-shared", "-Wl,-soname,libnvidia-ml.so.1");
            Path app = w.build("musl-gcc", "bin/app", "#include <stdio.h>\nint main(void) { puts(\"handle=ok\"); return 0; }\n",
                    "-Wl,--no-as-needed", "-L" + w.root.resolve("lib"), "-l:libnvidia-ml.so.1");
            Path shim = w.markerShim("musl-gcc");
            var before = TestFiles.listing(w.root);
            String sha = TestFiles.sha256(app);

            Cli.Result r = Cli.run("apply", app, "--shim", shim);
            assertEquals(5, r.exit(), r::toString);
            assertTrue(r.err().contains("give --shim-path with an absolute path of at most 17 bytes"), r::toString);
            assertTrue(r.err().contains("musl"), r::toString);
            var after = TestFiles.listing(w.root);
            // The in-place lock file that a refused run leaves today is removed by issue 15's work (branch state).
            after.remove("bin/.app.ollama-patch.lock");
            assertEquals(before, after);
            assertEquals(sha, TestFiles.sha256(app));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64"})
    void aMuslProgramThatCallsDlopenGetsAnAbsolutePathAndLoadsTheShim(String arch) throws Exception {
        try (LoaderWorld w = new LoaderWorld(arch, "apply-musl")) {
            Path app = w.build(w.musl(), "bin/app", CALLS_DLOPEN, "-O2");
            Cli.Result r = Cli.run("apply", w.root, "--shim", w.markerShim(w.musl()), "--json");
            assertEquals(0, r.exit(), r::toString);
            JsonNode site = onlySite(r, app.toString());
            assertTrue(site.get("replacement").asText().endsWith("/" + w.root.resolve("bin/nvml.so")), site::toString);
            LoaderWorld.Run run = w.run(app, null);
            assertEquals(List.of(w.root.resolve("bin/nvml.so")), run.loadedFiles(), run::toString);
            assertEquals(0, Cli.run("verify", w.root).exit());
        }
    }
}
