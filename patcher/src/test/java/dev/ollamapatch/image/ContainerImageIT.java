package dev.ollamapatch.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import dev.ollamapatch.patch.TestFiles;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.ollamapatch.image.TestImages.Entry;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Container images made by hand from the fixtures, patched by the tool, then checked with independent
 * tools: skopeo copies the output to {@code dir:} and {@code oci:} (which verifies every digest and
 * size), umoci unpacks it, and the patched Ollama-like program runs from the unpacked root and loads
 * the shim.
 */
class ContainerImageIT {
    private static final String STUB_DRIVER = "discovery: nvml=ok driver=" + Fixtures.STUB_DRIVER;
    private Path work;

    @BeforeEach
    void setUp() throws IOException {
        work = Files.createTempDirectory("image-it");
    }

    @AfterEach
    void tearDown() throws IOException {
        try (Stream<Path> s = Files.walk(work)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static Path x86(String program) {
        return Fixtures.binary("x86_64", "release", program);
    }

    private static Path ggmlBase(String arch) {
        return Fixtures.installDir(arch, "release", "gen-b").resolve("lib/ollama/libggml-base.so");
    }

    /**
     * Layer 0: Ollama under /usr (a gen-c binary as bin/ollama, a hard link to it, a symlink to it from
     * /usr/local/bin), libggml-base.so, a library that layer 1 whites out, and a second install under
     * /opt/ollama that layer 1 hides with an opaque directory. Layer 1 changes nothing else.
     */
    private static List<TestImages.Layer> officialLike(TestImages.Compression first) throws IOException {
        return officialLike(first, TestImages.Compression.PLAIN);
    }

    private static List<TestImages.Layer> officialLike(TestImages.Compression first, TestImages.Compression second)
            throws IOException {
        TestImages.Layer base = TestImages.layer(first, List.of(
                Entry.dir("etc/"), Entry.text("etc/os-release", "ID=fixture\n"),
                Entry.dir("usr/"), Entry.dir("usr/bin/"),
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 1000, 1001),
                Entry.hardLink("usr/bin/ollama-serve", "usr/bin/ollama"),
                Entry.dir("usr/local/"), Entry.dir("usr/local/bin/"),
                Entry.symlink("usr/local/bin/ollama", "/usr/bin/ollama"),
                Entry.dir("usr/sbin/"), Entry.symlink("usr/sbin/ollama", "../bin/ollama"),
                Entry.dir("usr/lib/"), Entry.dir("usr/lib/ollama/"),
                Entry.file("usr/lib/ollama/libggml-base.so", ggmlBase("x86_64"), 0644, 0, 0),
                Entry.file("usr/lib/ollama/libold.so", x86("tailmerge"), 0644, 0, 0),
                Entry.text("usr/lib/ollama/README", "not an ELF file\n"),
                Entry.dir("opt/"), Entry.dir("opt/ollama/"), Entry.dir("opt/ollama/bin/"),
                Entry.file("opt/ollama/bin/ollama", x86("gen-a"), 0755, 0, 0)));
        TestImages.Layer upper = TestImages.layer(second, List.of(
                Entry.text("usr/lib/ollama/.wh.libold.so", ""),
                Entry.dir("opt/ollama/"), Entry.text("opt/ollama/.wh..wh..opq", ""),
                Entry.text("etc/motd", "patched by a test\n")));
        return List.of(base, upper);
    }

    @Test
    void ociLayoutDirectoryGetsOneNewLayerThatSkopeoAndUmociAccept() throws Exception {
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1",
                List.of(TestImages.image("amd64", officialLike(TestImages.Compression.GZIP))));
        Path out = work.resolve("out");

        Cli.Result scan = Cli.run("scan", in);
        assertEquals(0, scan.exit(), scan.toString());
        assertTrue(scan.out().contains("/usr/bin/ollama"), scan.toString());
        assertFalse(scan.out().contains("/opt/ollama"), "hidden by an opaque directory: " + scan);
        assertFalse(scan.out().contains("libold.so"), "whited out: " + scan);

        Cli.Result dry = Cli.run("apply", "--dry-run", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, dry.exit(), dry.toString());
        assertFalse(Files.exists(out), "a dry run writes nothing");

        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--json");
        assertEquals(0, r.exit(), r.toString());
        JsonNode report = TestImages.JSON.readTree(r.out());
        List<String> patched = new ArrayList<>();
        report.get("files").forEach(f -> patched.add(f.get("path").asText() + " " + f.get("status").asText()));
        assertEquals(List.of("/usr/bin/ollama patched", "/usr/lib/ollama/libggml-base.so patched"), patched);
        report.get("files").forEach(f -> {
            assertEquals(in.toString(), f.get("archive").asText());
            assertEquals(out.toAbsolutePath().toString(), f.get("output").asText());
        });

        // Every input blob is in the output, byte for byte; the old index is replaced.
        try (Stream<Path> s = Files.list(in.resolve("blobs/sha256"))) {
            for (Path b : s.toList()) {
                assertArrayEquals(Files.readAllBytes(b), Files.readAllBytes(out.resolve("blobs/sha256").resolve(b.getFileName())));
            }
        }
        JsonNode manifest = manifestOf(out, 0);
        assertEquals(3, manifest.get("layers").size());
        JsonNode config = blobJson(out, manifest.get("config").get("digest").asText());
        assertEquals(3, config.get("rootfs").get("diff_ids").size());
        JsonNode history = config.get("history").get(2);
        assertTrue(history.get("created_by").asText().startsWith("ollama-patch "), history.toString());
        assertEquals("2024-12-24T00:00:00Z", config.get("created").asText(), "the rest of the config as it was");

        // The new layer: sorted, numeric owners of the files it replaces, the hard link kept as one.
        JsonNode newLayer = manifest.get("layers").get(2);
        assertEquals("application/vnd.oci.image.layer.v1.tar+gzip", newLayer.get("mediaType").asText());
        List<TarArchiveEntry> entries = layerEntries(out, newLayer.get("digest").asText());
        List<String> names = entries.stream().map(TarArchiveEntry::getName).toList();
        assertEquals(List.of("usr/.ollama-patch.json", "usr/bin/nvml.so", "usr/bin/ollama", "usr/bin/ollama-serve",
                "usr/lib/ollama/libggml-base.so", "usr/lib/ollama/nvml.so"), names);
        TarArchiveEntry ollama = entries.get(2);
        assertEquals(1000, ollama.getLongUserId());
        assertEquals(1001, ollama.getLongGroupId());
        assertEquals("", ollama.getUserName());
        assertEquals(TestImages.T0, ollama.getLastModifiedTime().toInstant().getEpochSecond());
        assertTrue(entries.get(3).isLink());
        assertEquals("usr/bin/ollama", entries.get(3).getLinkName());

        skopeoAccepts(out, "oci:");
        Path rootfs = umociUnpack(out, "v1");
        assertFalse(Files.exists(rootfs.resolve("usr/lib/ollama/libold.so")));
        assertFalse(Files.exists(rootfs.resolve("opt/ollama/bin/ollama")));
        assertEquals(Path.of("/usr/bin/ollama"), Files.readSymbolicLink(rootfs.resolve("usr/local/bin/ollama")));
        for (String program : List.of("usr/bin/ollama", "usr/bin/ollama-serve", "usr/sbin/ollama")) {
            Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve(program), Map.of());
            assertTrue(run.stdout().contains(STUB_DRIVER), program + ": " + run);
            assertTrue(run.stdout().contains("nvml-path: //$ORIGIN/nvml.so"), program + ": " + run);
        }
        assertTrue(Files.isSameFile(rootfs.resolve("usr/bin/ollama"), rootfs.resolve("usr/bin/ollama-serve")));

        // Reproducible: the same input gives the same bytes; the output, patched again, is already patched.
        Path again = work.resolve("again");
        assertEquals(0, Cli.run("apply", in, "-o", again, "--shim", Fixtures.stub("x86_64")).exit());
        assertEquals(TestFiles.listing(out), TestFiles.listing(again));
        assertArrayEquals(Files.readAllBytes(out.resolve("index.json")), Files.readAllBytes(again.resolve("index.json")));
        Cli.Result twice = Cli.run("apply", out, "-o", work.resolve("twice"));
        assertEquals(0, twice.exit(), twice.toString());
        assertTrue(twice.err().contains("already patched"), twice.toString());
        assertFalse(Files.exists(work.resolve("twice")));
    }

    @Test
    void zstdLayersAreReadAndTheNewLayerIsZstdLikeTheOneItOverrides() throws Exception {
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64",
                officialLike(TestImages.Compression.ZSTD, TestImages.Compression.ZSTD))));
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertEquals("application/vnd.oci.image.layer.v1.tar+zstd",
                manifestOf(out, 0).get("layers").get(2).get("mediaType").asText());
        skopeoAccepts(out, "oci:");
        // umoci 0.4.7 reads no zstd layer: skopeo recompresses them to gzip first (checking every digest).
        Path gz = work.resolve("gz");
        exec(List.of("skopeo", "copy", "-q", "--dest-compress", "--dest-compress-format", "gzip", "oci:" + out + ":v1",
                "oci:" + gz + ":v1"));
        Path rootfs = umociUnpack(gz, "v1");
        assertFalse(Files.exists(rootfs.resolve("usr/lib/ollama/libold.so")));
        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    /** docker save writes plain layer.tar members; other producers gzip them (told apart by their first bytes). */
    @ParameterizedTest
    @EnumSource(value = TestImages.Compression.class, names = {"PLAIN", "GZIP"})
    void dockerSaveTarballStaysADockerSaveTarball(TestImages.Compression layers) throws Exception {
        Path in = TestImages.dockerArchive(work.resolve("ollama.tar"), "ollama/ollama:fixture",
                TestImages.image("amd64", officialLike(layers, layers)));
        Path out = work.resolve("patched.tar");
        Cli.Result scan = Cli.run("scan", in, "--json");
        assertEquals(0, scan.exit(), scan.toString());
        List<String> found = new ArrayList<>();
        TestImages.JSON.readTree(scan.out()).get("files").forEach(f -> found.add(f.get("path").asText()));
        assertEquals(List.of("/usr/bin/ollama", "/usr/lib/ollama/libggml-base.so"), found);
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        JsonNode manifest = TestImages.JSON.readTree(member(out, "manifest.json"));
        assertEquals(3, manifest.get(0).get("Layers").size());
        assertEquals("ollama/ollama:fixture", manifest.get(0).get("RepoTags").get(0).asText());
        assertEquals(memberNames(in).size() + 2, memberNames(out).size(), "every member once, plus layer and config");

        // skopeo reads it as docker-archive (checking each layer against the config's diff_ids).
        Path oci = work.resolve("as-oci");
        exec(List.of("skopeo", "copy", "-q", "docker-archive:" + out, "oci:" + oci + ":fixture"));
        skopeoAccepts(oci, "oci:");
        Path rootfs = umociUnpack(oci, "fixture");
        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    @Test
    void ociTarballStaysAnOciTarball() throws Exception {
        Path dir = TestImages.ociDirectory(work.resolve("layout"), "v1",
                List.of(TestImages.image("amd64", officialLike(TestImages.Compression.GZIP))));
        Path in = TestImages.ociTarball(dir, work.resolve("ollama-oci.tar"));
        Path out = work.resolve("patched-oci.tar");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        Path again = work.resolve("again-oci.tar");
        assertEquals(0, Cli.run("apply", in, "-o", again, "--shim", Fixtures.stub("x86_64")).exit());
        assertEquals(TestFiles.sha256(out), TestFiles.sha256(again), "the same input gives the same bytes");
        assertEquals(memberNames(in).size() + 3, memberNames(out).size(), "every member once, plus layer, config, manifest");
        Path oci = work.resolve("as-oci");
        exec(List.of("skopeo", "copy", "-q", "oci-archive:" + out + ":v1", "oci:" + oci + ":v1"));
        Path rootfs = umociUnpack(oci, "v1");
        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    @Test
    void docker25SaveTarballKeepsBothItsIndexes() throws Exception {
        TestImages.Built image = TestImages.image("amd64", officialLike(TestImages.Compression.PLAIN));
        Path dir = TestImages.ociDirectory(work.resolve("layout"), "fixture", List.of(image));
        Path in = TestImages.ociTarball(dir, work.resolve("docker25.tar"),
                TestImages.dockerManifestOfBlobs("ollama/ollama:fixture", image));
        Path out = work.resolve("patched.tar");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        JsonNode manifest = TestImages.JSON.readTree(member(out, "manifest.json"));
        assertEquals(3, manifest.get(0).get("Layers").size());
        // Read through manifest.json (docker-archive:) and through index.json (oci-archive:): the same image.
        for (String transport : List.of("docker-archive:" + out, "oci-archive:" + out + ":fixture")) {
            Path oci = work.resolve("as-oci-" + System.nanoTime());
            exec(List.of("skopeo", "copy", "-q", transport, "oci:" + oci + ":t"));
            Fixtures.Run run = Fixtures.run("x86_64", umociUnpack(oci, "t").resolve("usr/bin/ollama"), Map.of());
            assertTrue(run.stdout().contains(STUB_DRIVER), transport + ": " + run);
        }
    }

    @Test
    void eachPlatformOfAnIndexGetsItsOwnShimOrIsLeftWithPlatform() throws Exception {
        TestImages.Built amd64 = TestImages.image("amd64", List.of(TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0)))));
        TestImages.Built arm64 = TestImages.image("arm64", List.of(TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.file("usr/bin/ollama", Fixtures.binary("aarch64", "release", "gen-c"), 0755, 0, 0),
                Entry.file("usr/lib/ollama/libggml-base.so", ggmlBase("aarch64"), 0644, 0, 0)))));
        Path in = TestImages.ociDirectory(work.resolve("in"), "multi", List.of(amd64, arm64));
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out);
        assertEquals(0, r.exit(), r.toString());
        skopeoAccepts(out, "oci:");

        Path conf = work.resolve("shim.conf");
        Files.writeString(conf, "[shim]\nmode = virtual\ndriver_version = 570.86.15\n\n[device.0]\nname = Test GPU\n"
                + "uuid = GPU-3f1c2d4e-0000-4000-8000-000000000001\nmemory_total = 8589934592\ncompute_capability = 8.9\n");
        for (String arch : List.of("amd64", "arm64")) {
            // umoci 0.4.7 cannot choose a platform: skopeo picks one into a layout of its own first.
            Path single = work.resolve("single-" + arch);
            exec(List.of("skopeo", "--override-arch", arch, "copy", "-q", "oci:" + out + ":multi",
                    "oci:" + single + ":one"));
            Path rootfs = umociUnpack(single, "one");
            byte[] shim = Files.readAllBytes(rootfs.resolve("usr/bin/nvml.so"));
            int machine = (shim[18] & 0xFF) | (shim[19] & 0xFF) << 8; // e_machine, ELF header offset 18
            assertEquals(arch.equals("amd64") ? 62 : 183, machine, arch + ": EM_X86_64 or EM_AARCH64");
            Fixtures.Run run = Fixtures.run(arch.equals("amd64") ? "x86_64" : "aarch64", rootfs.resolve("usr/bin/ollama"),
                    Map.of("OLLAMA_PATCH_SHIM_CONFIG", conf.toString()));
            assertTrue(run.stdout().contains("discovery: nvml=ok driver=570.86.15 devices=1"), arch + ": " + run);
        }

        // --platform: the other platform's manifest stays as it was.
        Path only = work.resolve("only");
        Cli.Result p = Cli.run("apply", in, "-o", only, "--platform", "linux/arm64");
        assertEquals(0, p.exit(), p.toString());
        JsonNode inner = innerIndex(only);
        assertEquals(TestImages.sha256(amd64.manifest()), inner.get("manifests").get(0).get("digest").asText());
        assertFalse(TestImages.sha256(arm64.manifest()).equals(inner.get("manifests").get(1).get("digest").asText()));
        skopeoAccepts(only, "oci:");
    }

    /**
     * A layer whose root directory is opaque hides every layer below it: those are not decompressed,
     * only copied (checked against their digests). Shown with a lower layer whose diff_id in the
     * config is wrong: below an opaque root it is never read; without one, it is, and refused.
     */
    @Test
    void layersBelowAnOpaqueRootAreCopiedWithoutBeingDecompressed() throws Exception {
        TestImages.Layer base = TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.dir("etc/"), Entry.text("etc/os-release", "ID=old\n")));
        TestImages.Layer wrongDiffId = new TestImages.Layer(base.blob(), "sha256:" + "0".repeat(64), base.mediaType());
        List<Entry> top = List.of(Entry.dir("usr/"), Entry.dir("usr/bin/"),
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0));
        List<Entry> opaqueTop = new ArrayList<>(top);
        opaqueTop.add(0, Entry.text(".wh..wh..opq", ""));

        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64",
                List.of(wrongDiffId, TestImages.layer(TestImages.Compression.GZIP, opaqueTop)))));
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(0, r.exit(), r.toString());
        assertArrayEquals(base.blob(), Files.readAllBytes(out.resolve("blobs/sha256/" + base.digest().substring(7))));
        assertEquals(3, manifestOf(out, 0).get("layers").size());
        skopeoAccepts(out, "oci:");

        Path visible = TestImages.ociDirectory(work.resolve("visible"), "v1", List.of(TestImages.image("amd64",
                List.of(wrongDiffId, TestImages.layer(TestImages.Compression.GZIP, top)))));
        Cli.Result read = Cli.run("apply", visible, "-o", work.resolve("out2"), "--shim", Fixtures.stub("x86_64"));
        assertEquals(4, read.exit(), read.toString());
        assertTrue(read.err().contains("layer " + base.digest() + ": diff_id mismatch"), read.toString());
    }

    /**
     * Ollama installed under /opt/runtime (no "ollama" in its paths) and linked into /usr: the files
     * are found through the links, as an install directory given by a link is, and patched where
     * they really are, with the shims beside them; the layer holding them is read a second time.
     */
    @Test
    void anInstallReachedThroughSymbolicLinksToPathsWithoutOllamaIsPatchedWhereItIs() throws Exception {
        TestImages.Layer runtime = TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.dir("opt/"), Entry.dir("opt/runtime/"), Entry.dir("opt/runtime/bin/"),
                Entry.file("opt/runtime/bin/server", x86("gen-c"), 0755, 0, 0),
                Entry.dir("opt/runtime/lib/"),
                Entry.file("opt/runtime/lib/libggml-base.so", ggmlBase("x86_64"), 0644, 0, 0)));
        TestImages.Layer links = TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.dir("usr/"), Entry.dir("usr/bin/"), Entry.symlink("usr/bin/ollama", "/opt/runtime/bin/server"),
                Entry.dir("usr/lib/"), Entry.symlink("usr/lib/ollama", "../../opt/runtime/lib")));
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1",
                List.of(TestImages.image("amd64", List.of(runtime, links))));
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"), "--json");
        assertEquals(0, r.exit(), r.toString());
        List<String> patched = new ArrayList<>();
        TestImages.JSON.readTree(r.out()).get("files").forEach(f -> patched.add(f.get("path").asText()));
        assertEquals(List.of("/opt/runtime/bin/server", "/opt/runtime/lib/libggml-base.so"), patched);
        List<String> names = layerEntries(out, manifestOf(out, 0).get("layers").get(2).get("digest").asText())
                .stream().map(TarArchiveEntry::getName).toList();
        assertEquals(List.of("opt/runtime/bin/nvml.so", "opt/runtime/bin/server", "opt/runtime/lib/libggml-base.so",
                "opt/runtime/lib/nvml.so", "usr/.ollama-patch.json"), names);
        skopeoAccepts(out, "oci:");
        Path rootfs = umociUnpack(out, "v1");
        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("opt/runtime/bin/server"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    /**
     * BuildKit lists an attestation beside each platform, naming the platform's manifest by digest. It
     * attests the image before patching: the replaced platform's attestation leaves the index, the
     * others stay, and skopeo still accepts every digest.
     */
    @Test
    void attestationsOfAReplacedPlatformLeaveTheIndexTheOthersStay() throws Exception {
        TestImages.Built amd64 = TestImages.image("amd64", List.of(TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0)))));
        TestImages.Built arm64 = TestImages.image("arm64", List.of(TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.file("usr/bin/ollama", Fixtures.binary("aarch64", "release", "gen-c"), 0755, 0, 0)))));
        Path layout = work.resolve("in");
        com.fasterxml.jackson.databind.node.ObjectNode amd64Attestation = TestImages.attestation(layout, amd64);
        com.fasterxml.jackson.databind.node.ObjectNode arm64Attestation = TestImages.attestation(layout, arm64);
        Path in = TestImages.ociDirectory(layout, "multi", List.of(amd64, arm64), List.of(amd64Attestation, arm64Attestation));
        skopeoAccepts(in, "oci:"); // the hand-made input is a valid image with its attestations
        assertEquals(4, innerIndex(in).get("manifests").size());

        Path only = work.resolve("only");
        Cli.Result p = Cli.run("apply", in, "-o", only, "--platform", "linux/arm64");
        assertEquals(0, p.exit(), p.toString());
        assertTrue(p.err().contains("1 attestation manifest of the replaced image left out of the index (they attest "
                + "the image before patching, not this one): " + arm64Attestation.get("digest").asText()), p.toString());
        List<String> listed = new ArrayList<>();
        innerIndex(only).get("manifests").forEach(d -> listed.add(d.get("digest").asText()));
        assertEquals(3, listed.size(), listed.toString());
        assertEquals(TestImages.sha256(amd64.manifest()), listed.get(0), "amd64 left as it was");
        assertFalse(listed.contains(TestImages.sha256(arm64.manifest())));
        assertEquals(amd64Attestation.get("digest").asText(), listed.get(2), "amd64's attestation still attests amd64");
        assertFalse(listed.contains(arm64Attestation.get("digest").asText()));
        skopeoAccepts(only, "oci:");

        Path all = work.resolve("all");
        Cli.Result r = Cli.run("apply", in, "-o", all);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.err().contains("2 attestation manifests of the replaced images left out"), r.toString());
        JsonNode inner = innerIndex(all);
        assertEquals(2, inner.get("manifests").size(), inner.toString());
        inner.get("manifests").forEach(d -> assertFalse(d.has("annotations"), d.toString()));
        skopeoAccepts(all, "oci:");
        // The attestations' blobs stay in the layout, byte for byte, no longer referenced.
        String dropped = arm64Attestation.get("digest").asText().substring(7);
        assertArrayEquals(Files.readAllBytes(in.resolve("blobs/sha256/" + dropped)),
                Files.readAllBytes(all.resolve("blobs/sha256/" + dropped)));
    }

    @Test
    void aFileWhereTheShimGoesIsReplacedOnlyWithForce() throws Exception {
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0),
                        Entry.text("usr/bin/nvml.so", "someone else's file\n")))))));
        Cli.Result refused = Cli.run("apply", in, "-o", work.resolve("out"), "--shim", Fixtures.stub("x86_64"));
        assertEquals(5, refused.exit(), refused.toString());
        assertTrue(refused.err().contains("/usr/bin/nvml.so: the image already has a file where the shim goes"),
                refused.toString());
        assertFalse(Files.exists(work.resolve("out")));
        Cli.Result forced = Cli.run("apply", in, "-o", work.resolve("out"), "--shim", Fixtures.stub("x86_64"), "--force");
        assertEquals(0, forced.exit(), forced.toString());
        Fixtures.Run run = Fixtures.run("x86_64", umociUnpack(work.resolve("out"), "v1").resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    /** Compiles C text with gcc into {@code out}. */
    private Path gcc(String name, String source, String... flags) throws Exception {
        Path src = work.resolve("src").resolve(name + ".c");
        Files.createDirectories(src.getParent());
        Files.writeString(src, source);
        Path out = work.resolve("src").resolve(name);
        List<String> cmd = new ArrayList<>(List.of("gcc", "-o", out.toString(), src.toString()));
        cmd.addAll(List.of(flags));
        exec(cmd);
        return out;
    }

    @Test
    void aLibraryWhoseDlopenIsTailCalledFromBinGetsTheShimBesideTheProgramInTheNewLayer() throws Exception {
        String nvml = "/usr/local/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1";
        Path lib = gcc("libtail.so", """
                #include <dlfcn.h>
                void *open_nvml(int flags) { return dlopen("%s", flags); }
                """.formatted(nvml), "-O2", "-fPIC", "-shared");
        Path app = gcc("ollama", """
                #include <stdio.h>
                void *open_nvml(int flags);
                int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                """, "-O2", "-L" + work.resolve("src"), "-l:libtail.so", "-Wl,-rpath,$ORIGIN/../lib/ollama");
        // A shim stand-in that says which file the loader opened it by.
        Path shim = gcc("marker.so", """
                #define _GNU_SOURCE
                #include <dlfcn.h>
                #include <stdio.h>
                static void hello(void) __attribute__((constructor));
                static void hello(void) {
                    Dl_info info;
                    if (dladdr((void *) hello, &info)) printf("shim loaded: %s\\n", info.dli_fname);
                    fflush(stdout);
                }
                """, "-shared", "-fPIC", "-Wl,-soname,libnvidia-ml.so.1");
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.dir("usr/"), Entry.dir("usr/bin/"),
                        Entry.file("usr/bin/ollama", app, 0755, 0, 0), Entry.dir("usr/lib/"), Entry.dir("usr/lib/ollama/"),
                        Entry.file("usr/lib/ollama/libtail.so", lib, 0644, 0, 0)))))));
        Path out = work.resolve("out");

        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", shim, "--json");
        assertEquals(0, r.exit(), r.toString());
        JsonNode site = null;
        for (JsonNode f : TestImages.JSON.readTree(r.out()).get("files")) {
            if (f.get("path").asText().equals("/usr/lib/ollama/libtail.so")) site = f.get("sites").get(0);
        }
        assertTrue(site != null, r.toString());
        JsonNode res = site.get("resolution");
        assertEquals("tail-call", res.get("how").asText(), r.toString());
        assertEquals("/usr/bin/nvml.so", res.get("opens").get(0).asText(), r.toString());
        assertEquals("/usr/bin/ollama", res.get("caller").asText(), r.toString());

        Path rootfs = umociUnpack(out, "v1");
        assertTrue(Files.isRegularFile(rootfs.resolve("usr/bin/nvml.so")));
        assertFalse(Files.exists(rootfs.resolve("usr/lib/ollama/nvml.so")), "not beside the library that holds the string");
        JsonNode manifest = TestImages.JSON.readTree(rootfs.resolve("usr/.ollama-patch.json").toFile());
        JsonNode written = null;
        for (JsonNode f : manifest.get("files")) {
            if (f.get("path").asText().equals("/usr/lib/ollama/libtail.so")) written = f.get("sites").get(0);
        }
        assertTrue(written != null, manifest.toString());
        assertEquals("tail-call", written.get("resolution").asText(), manifest.toString());
        assertEquals("/usr/bin/nvml.so", written.get("resolves_to").get(0).asText(), manifest.toString());

        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains("handle=ok"), run.toString());
        List<String> loaded = run.stdout().lines().filter(l -> l.startsWith("shim loaded: "))
                .map(l -> Path.of(l.substring(13).replaceAll("/+", "/")).normalize().toString()).toList();
        assertEquals(List.of(rootfs.resolve("usr/bin/nvml.so").toString()), loaded, run.toString());
    }

    /** {@code mib} MiB of random text in a file. */
    private Path bulk(String name, int mib) throws IOException {
        Path data = work.resolve("src").resolve(name + ".bulk");
        Files.createDirectories(data.getParent());
        byte[] raw = new byte[mib << 20];
        new java.util.Random(mib).nextBytes(raw);
        Files.write(data, java.util.Base64.getMimeEncoder().encode(raw));
        return data;
    }

    /**
     * A shared library like a CUDA library: {@code mib} MiB of read-only data loaded with its code (in a
     * PT_LOAD segment, the section headers at the end of the file), no NVML name, no dlopen.
     */
    private Path cudaLike(String name, int mib) throws Exception {
        return cudaLike(name, mib, "");
    }

    /** The same, with {@code text} (a C string) right after the data. */
    private Path cudaLike(String name, int mib, String text) throws Exception {
        Path data = bulk(name, mib);
        return gcc(name, """
                __asm__(".section .rodata\\n.globl bulk\\nbulk: .incbin \\"%s\\"\\n.asciz \\"%s\\"\\n.previous\\n");
                extern const char bulk[];
                const char *first(void) { return bulk; }
                """.formatted(data, text), "-O2", "-fPIC", "-shared");
    }

    /** {@code elf} with {@code mib} MiB of random text added as a section that is not loaded. */
    private Path padded(Path elf, String name, int mib) throws Exception {
        Path data = bulk(name, mib);
        Path out = work.resolve("src").resolve(name);
        exec(List.of("objcopy", "--add-section", ".bulk=" + data, elf.toString(), out.toString()));
        return out;
    }

    /** {@code elf} with {@code mib} MiB of random text appended (bytes no section describes). */
    private Path trailing(Path elf, String name, int mib) throws IOException {
        byte[] raw = new byte[mib << 20];
        new java.util.Random(-mib).nextBytes(raw);
        Path out = work.resolve("src").resolve(name);
        Files.createDirectories(out.getParent());
        Files.write(out, Files.readAllBytes(elf));
        Files.write(out, java.util.Base64.getMimeEncoder().encode(raw), java.nio.file.StandardOpenOption.APPEND);
        return out;
    }

    /** The apply's report and output with every file kept whole (as before files were let go), and its stats. */
    private record Applied(Cli.Result result, Path out, PlatformPatch.Stats stats) {}

    private Applied apply(Path in, String outName, boolean keepAll, Object... more) {
        long before = PlatformPatch.searchedSize;
        if (keepAll) PlatformPatch.searchedSize = Long.MAX_VALUE;
        try {
            Path out = work.resolve(outName);
            List<Object> args = new ArrayList<>(List.of("apply", in, "-o", out));
            args.addAll(List.of(more));
            Cli.Result r = Cli.run(args.toArray());
            assertEquals(0, r.exit(), r.toString());
            return new Applied(r, out, PlatformPatch.last);
        } finally {
            PlatformPatch.searchedSize = before;
        }
    }

    @Test
    void largeElfFilesThatNameNothingAreNotKeptAndChangeNothingInTheReportOrTheImage() throws Exception {
        // Like the official image's CUDA libraries: large, loaded, naming no NVML, calling no dlopen.
        Path loaded = cudaLike("libcublasLt.so.12", 3);
        Path appended = trailing(x86("ehframe"), "libcublas.so.12", 3);
        // Large, and it mentions NVML only after its data: found after bytes were left out, so read again whole.
        Path mentions = cudaLike("libggml-cuda.so", 2, "hint: libnvidia-ml.so.1 is part of the driver");
        List<TestImages.Layer> layers = new ArrayList<>(officialLike(TestImages.Compression.GZIP));
        layers.add(TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.dir("usr/"), Entry.dir("usr/lib/"),
                Entry.dir("usr/lib/ollama/"), Entry.dir("usr/lib/ollama/cuda_v12/"),
                Entry.file("usr/lib/ollama/cuda_v12/libcublasLt.so.12", loaded, 0644, 0, 0),
                Entry.file("usr/lib/ollama/cuda_v12/libcublas.so.12", appended, 0644, 0, 0),
                Entry.file("usr/lib/ollama/cuda_v12/libggml-cuda.so", mentions, 0644, 0, 0))));
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", layers)));

        Applied whole = apply(in, "whole", true, "--shim", Fixtures.stub("x86_64"), "--json");
        assertEquals(0, whole.stats().droppedFiles());
        long head = SparseSpool.head;
        SparseSpool.head = 64 << 10; // so that the loaded bytes past it are left out, as those of a large library are
        Applied searched;
        try {
            searched = apply(in, "searched", false, "--shim", Fixtures.stub("x86_64"), "--json");
        } finally {
            SparseSpool.head = head;
        }
        PlatformPatch.Stats st = searched.stats();
        assertEquals(2, st.droppedFiles(), st.toString());
        assertEquals(Files.size(loaded) + Files.size(appended), st.droppedBytes(), st.toString());
        assertEquals(1, st.readAgainFiles(), st.toString()); // libggml-cuda.so
        assertEquals(0, st.restoredFiles(), st.toString());
        long kept = Files.size(x86("gen-c")) + Files.size(ggmlBase("x86_64")) + Files.size(mentions);
        assertTrue(st.peakSpooledBytes() < kept + (1 << 20), "the large files were never on disk whole: " + st);

        assertEquals(whole.result().out().replace(whole.out().toString(), "OUT"),
                searched.result().out().replace(searched.out().toString(), "OUT"), "the same report, byte for byte");
        assertEquals(TestFiles.listing(whole.out()), TestFiles.listing(searched.out()), "the same image");
        Cli.Result scan = Cli.run("scan", in);
        PlatformPatch.searchedSize = Long.MAX_VALUE;
        Cli.Result scanWhole;
        try {
            scanWhole = Cli.run("scan", in);
        } finally {
            PlatformPatch.searchedSize = 1 << 20;
        }
        assertEquals(scanWhole.toString(), scan.toString());

        // The unchanged blobs of the output layout are the input's files (hard links), checked all the same.
        try (Stream<Path> s = Files.list(in.resolve("blobs/sha256"))) {
            for (Path b : s.toList()) {
                assertTrue(Files.isSameFile(b, searched.out().resolve("blobs/sha256").resolve(b.getFileName())), b.toString());
            }
        }
        skopeoAccepts(searched.out(), "oci:");
        Path rootfs = umociUnpack(searched.out(), "v1");
        assertArrayEquals(Files.readAllBytes(loaded), Files.readAllBytes(rootfs.resolve("usr/lib/ollama/cuda_v12/libcublasLt.so.12")));
        Fixtures.Run run = Fixtures.run("x86_64", rootfs.resolve("usr/bin/ollama"), Map.of());
        assertTrue(run.stdout().contains(STUB_DRIVER), run.toString());
    }

    @Test
    void aLargeProgramLetGoIsReadAgainWholeWhenATailCalledDlopenNeedsItsCode() throws Exception {
        String nvml = "/usr/local/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1";
        Path lib = gcc("libtail.so", """
                #include <dlfcn.h>
                void *open_nvml(int flags) { return dlopen("%s", flags); }
                """.formatted(nvml), "-O2", "-fPIC", "-shared");
        Path small = gcc("runner", """
                #include <stdio.h>
                void *open_nvml(int flags);
                int main(void) { printf("handle=%s\\n", open_nvml(2) ? "ok" : "none"); return 0; }
                """, "-O2", "-L" + work.resolve("src"), "-l:libtail.so", "-Wl,-rpath,$ORIGIN");
        // A program of the install (not bin/ollama, which is always kept whole) that names nothing and calls
        // no dlopen: large, it is let go; the library's tail-called dlopen then asks for the program's code
        // (who calls open_nvml), which its stub does not hold.
        Path app = padded(small, "runner-big", 2);
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.dir("usr/"), Entry.dir("usr/lib/"),
                        Entry.dir("usr/lib/ollama/"), Entry.file("usr/lib/ollama/runner", app, 0755, 0, 0),
                        Entry.file("usr/lib/ollama/libtail.so", lib, 0644, 0, 0)))))));
        Applied whole = apply(in, "whole", true, "--shim", Fixtures.stub("x86_64"), "--json");
        Applied searched = apply(in, "searched", false, "--shim", Fixtures.stub("x86_64"), "--json");
        assertEquals(1, searched.stats().droppedFiles(), searched.stats().toString());
        assertEquals(1, searched.stats().restoredFiles(), searched.stats().toString());
        assertEquals(whole.result().out().replace(whole.out().toString(), "OUT"),
                searched.result().out().replace(searched.out().toString(), "OUT"));
        assertTrue(searched.result().out().contains("/usr/lib/ollama/runner"), searched.result().toString());
        assertTrue(searched.result().out().contains("tail-call"), searched.result().toString());
        assertEquals(TestFiles.listing(whole.out()), TestFiles.listing(searched.out()));
    }

    @Test
    void aSetUidProgramGetsAnAbsolutePathInTheContainerOrIsRefusedWithNothingWrittenWhereNoneFits() throws Exception {
        Path app = gcc("ollama", """
                #include <dlfcn.h>
                #include <stdio.h>
                int main(void) { printf("handle=%s\\n", dlopen("libnvidia-ml.so.1", RTLD_NOW) ? "ok" : "none"); return 0; }
                """, "-O2");
        // Under /usr the container path /usr/bin/nvml.so (16 bytes) fits the 17-byte site.
        Path fits = TestImages.ociDirectory(work.resolve("fits"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.dir("usr/"), Entry.dir("usr/bin/"),
                        Entry.file("usr/bin/ollama", app, 04755, 0, 0)))))));
        Cli.Result ok = Cli.run("apply", fits, "-o", work.resolve("fits-out"), "--shim", Fixtures.stub("x86_64"), "--json");
        assertEquals(0, ok.exit(), ok.toString());
        JsonNode site = TestImages.JSON.readTree(ok.out()).get("files").get(0).get("sites").get(0);
        assertEquals("//usr/bin/nvml.so", site.get("replacement").asText(), site.toString());
        assertTrue(site.get("resolution").get("blocker").asText().contains("set-user-ID"), site.toString());
        assertTrue(Files.isRegularFile(umociUnpack(work.resolve("fits-out"), "v1").resolve("usr/bin/nvml.so")));

        // Under /opt/ollama, /opt/ollama/bin/nvml.so (23 bytes) does not: refused, nothing written.
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.dir("opt/"), Entry.dir("opt/ollama/"),
                        Entry.dir("opt/ollama/bin/"), Entry.file("opt/ollama/bin/ollama", app, 04755, 0, 0)))))));
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(5, r.exit(), r.toString());
        assertTrue(r.err().contains("/opt/ollama/bin/ollama") && r.err().contains("set-user-ID"), r.toString());
        assertTrue(r.err().contains("give --shim-path with an absolute path of at most 17 bytes"), r.toString());
        assertFalse(Files.exists(out), "nothing written");
        try (Stream<Path> s = Files.list(work)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().startsWith(".out")), "nothing left behind");
        }
    }

    @Test
    void usageErrorsWriteNothing() throws Exception {
        Path in = goodLayout();
        Cli.Result noOut = Cli.run("apply", in);
        assertEquals(2, noOut.exit(), noOut.toString());
        assertTrue(noOut.err().contains("give the output image with -o OUT"), noOut.toString());
        Path taken = Files.createDirectory(work.resolve("taken"));
        Cli.Result exists = Cli.run("apply", in, "-o", taken);
        assertEquals(2, exists.exit(), exists.toString());
        Cli.Result platform = Cli.run("apply", in, "-o", work.resolve("out"), "--platform", "linux/s390x");
        assertEquals(2, platform.exit(), platform.toString());
        assertTrue(platform.err().contains("--platform linux/s390x: the image has linux/amd64"), platform.toString());
        try (Stream<Path> s = Files.list(work)) {
            assertEquals(List.of("in", "taken"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void anImageWithoutOllamaHasNothingToPatch() throws Exception {
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(
                TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.file("usr/bin/tool", x86("gen-c"), 0755, 0, 0)))))));
        Cli.Result r = Cli.run("apply", in, "-o", work.resolve("out"));
        assertEquals(3, r.exit(), r.toString());
        assertFalse(Files.exists(work.resolve("out")));
    }

    // ---- bad input: one line naming the blob or entry, exit 4, nothing written

    private Path goodLayout() throws IOException {
        return TestImages.ociDirectory(work.resolve("in"), "v1",
                List.of(TestImages.image("amd64", officialLike(TestImages.Compression.GZIP))));
    }

    private void rejected(Path in, String expected) throws IOException {
        Path out = work.resolve("out");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(4, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().contains(expected), "expected \"" + expected + "\" in " + r);
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(work)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().startsWith(".")).toList(), "leftovers");
        }
    }

    @Test
    void aDockerSaveWhoseLayerDoesNotMatchItsDiffIdWritesNothing() throws Exception {
        TestImages.Built image = TestImages.image("amd64", officialLike(TestImages.Compression.PLAIN));
        TestImages.Layer l = image.layers().get(1);
        byte[] changed = l.blob().clone();
        changed[4 * 512] ^= 0x01; // etc/motd's first byte (after three headers and its own): still a tar, another hash
        TestImages.Built bad = new TestImages.Built(image.config(), image.manifest(),
                List.of(image.layers().get(0), new TestImages.Layer(changed, l.diffId(), l.mediaType())), "amd64");
        Path in = TestImages.dockerArchive(work.resolve("in.tar"), "ollama/ollama:fixture", bad);
        Path out = work.resolve("out.tar");
        Cli.Result r = Cli.run("apply", in, "-o", out, "--shim", Fixtures.stub("x86_64"));
        assertEquals(4, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().contains("layer " + l.diffId().substring(7) + "/layer.tar: diff_id mismatch"), r.toString());
        try (Stream<Path> s = Files.list(work)) {
            assertEquals(List.of("in.tar"), s.map(p -> p.getFileName().toString()).toList(), "nothing written");
        }
    }

    @Test
    void aMissingBlobIsNamed() throws Exception {
        Path in = goodLayout();
        String digest = manifestOf(in, 0).get("layers").get(1).get("digest").asText();
        Files.delete(in.resolve("blobs/sha256/" + digest.substring(7)));
        rejected(in, "blob " + digest + ": missing from the image");
    }

    @Test
    void aBlobWhoseDigestDoesNotMatchIsNamed() throws Exception {
        Path in = goodLayout();
        String digest = manifestOf(in, 0).get("layers").get(1).get("digest").asText();
        Path blob = in.resolve("blobs/sha256/" + digest.substring(7));
        byte[] b = Files.readAllBytes(blob);
        b[b.length / 2] ^= 0x01;
        Files.write(blob, b);
        rejected(in, digest);
    }

    @Test
    void anUnknownLayerMediaTypeIsNamed() throws Exception {
        TestImages.Layer l = TestImages.layer(TestImages.Compression.GZIP, List.of(Entry.text("etc/x", "x")));
        TestImages.Layer odd = new TestImages.Layer(l.blob(), l.diffId(), "application/vnd.example.layer.v9+lz5");
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(odd))));
        rejected(in, "layer " + odd.digest() + ": unknown media type \"application/vnd.example.layer.v9+lz5\"");
    }

    @Test
    void aLayerPathEscapingTheRootIsNamed() throws Exception {
        TestImages.Layer l = TestImages.layer(TestImages.Compression.GZIP, List.of(
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0), Entry.text("usr/../../etc/evil", "x")));
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(l))));
        rejected(in, "entry usr/../../etc/evil: path usr/../../etc/evil escapes the image's root");
    }

    @Test
    void aCorruptLayerTarIsNamed() throws Exception {
        TestImages.Layer good = TestImages.layer(TestImages.Compression.PLAIN, List.of(
                Entry.file("usr/bin/ollama", x86("gen-c"), 0755, 0, 0), Entry.text("etc/x", "x")));
        byte[] tar = good.blob().clone();
        tar[148] ^= 0x05; // the first header's checksum field (ustar: offset 148, 8 bytes)
        TestImages.Layer bad = new TestImages.Layer(tar, TestImages.sha256(tar), good.mediaType());
        Path in = TestImages.ociDirectory(work.resolve("in"), "v1", List.of(TestImages.image("amd64", List.of(bad))));
        rejected(in, "layer " + bad.digest() + ": corrupt layer");
    }

    // ---- helpers

    private static JsonNode manifestOf(Path layout, int i) throws IOException {
        JsonNode index = TestImages.JSON.readTree(layout.resolve("index.json").toFile());
        return blobJson(layout, index.get("manifests").get(i).get("digest").asText());
    }

    private static JsonNode innerIndex(Path layout) throws IOException {
        return manifestOf(layout, 0);
    }

    private static JsonNode blobJson(Path layout, String digest) throws IOException {
        return TestImages.JSON.readTree(layout.resolve("blobs/sha256/" + digest.substring(7)).toFile());
    }

    private static List<TarArchiveEntry> layerEntries(Path layout, String digest) throws IOException {
        List<TarArchiveEntry> out = new ArrayList<>();
        try (InputStream in = new GzipCompressorInputStream(Files.newInputStream(layout.resolve("blobs/sha256/"
                + digest.substring(7)))); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) out.add(e);
        }
        return out;
    }

    private static List<String> memberNames(Path tarball) throws IOException {
        List<String> names = new ArrayList<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(tarball))) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) names.add(e.getName());
        }
        assertEquals(names.size(), new java.util.HashSet<>(names).size(), "duplicate members: " + names);
        return names;
    }

    private static byte[] member(Path tarball, String name) throws IOException {
        try (TarArchiveInputStream tar = new TarArchiveInputStream(Files.newInputStream(tarball))) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                if (e.getName().equals(name)) return tar.readAllBytes();
            }
        }
        throw new AssertionError(name + " not in " + tarball);
    }

    /** skopeo copies the image to dir: and to a new OCI layout, checking every digest and size on the way. */
    private void skopeoAccepts(Path layout, String transport) throws Exception {
        JsonNode index = TestImages.JSON.readTree(layout.resolve("index.json").toFile());
        String tag = index.get("manifests").get(0).get("annotations").get("org.opencontainers.image.ref.name").asText();
        Path dir = Files.createTempDirectory(work, "skopeo-dir");
        exec(List.of("skopeo", "copy", "-q", "--all", transport + layout + ":" + tag, "dir:" + dir));
        Path copy = work.resolve("skopeo-oci-" + System.nanoTime());
        exec(List.of("skopeo", "copy", "-q", "--all", transport + layout + ":" + tag, "oci:" + copy + ":" + tag));
    }

    private Path umociUnpack(Path layout, String tag) throws Exception {
        Path bundle = work.resolve("bundle-" + System.nanoTime());
        exec(List.of("umoci", "unpack", "--rootless", "--image", layout + ":" + tag, bundle.toString()));
        return bundle.resolve("rootfs");
    }

    private static String exec(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + "\n" + out);
        return out;
    }
}
