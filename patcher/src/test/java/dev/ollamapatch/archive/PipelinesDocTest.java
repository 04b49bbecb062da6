package dev.ollamapatch.archive;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The steps of docs/pipelines.md with the tool directly: a release and its sha256sum file, apply with
 * --checksums and --report, the report check of the CI job, then what the Dockerfile's build stage
 * does (extract under the prefix) and a run of the result.
 */
class PipelinesDocTest {
    @Test
    void theDocumentedStepsWork() throws Exception {
        Path work = ReleaseArchives.shortDirectory();
        try {
            Path release = ReleaseArchives.write(work.resolve("ollama-linux-amd64.tgz"), false, 0);
            Path sums = work.resolve("sha256sum.txt");
            Files.writeString(sums, Checksums.sha256(release) + "  ./ollama-linux-amd64.tgz\n");
            Path usr = Files.createDirectory(work.resolve("u")); // short: gen-a's globs hold 26 bytes
            Path patched = work.resolve("ollama-patched.tgz");
            Path report = work.resolve("report.json");

            // RUN ollama-patch apply ... --checksums sha256sum.txt --prefix /usr --report report.json
            Cli.Result r = Cli.run("apply", release, "-o", patched, "--checksums", sums, "--prefix", usr,
                    "--report", report, "--shim", Fixtures.stub("x86_64"));
            assertEquals(0, r.exit(), r.toString());

            // The CI job's jq / python check.
            JsonNode files = new ObjectMapper().readTree(report.toFile()).get("files");
            List<JsonNode> done = new ArrayList<>();
            files.forEach(f -> { if (f.get("status").asText().equals("patched")) done.add(f); });
            assertTrue(!done.isEmpty(), "nothing patched");
            assertTrue(done.stream().anyMatch(f -> f.get("path").asText().matches("(^|.*/)bin/ollama$")));
            for (JsonNode f : done) {
                assertTrue(f.hasNonNull("patched_sha256"), f.toString());
                boolean retarget = false;
                for (JsonNode s : f.get("sites")) retarget |= s.get("action").asText().equals("retarget");
                assertTrue(retarget, f.toString());
                assertEquals(release.toString(), f.get("archive").asText());
                assertEquals(patched.toAbsolutePath().toString(), f.get("output").asText());
            }
            files.forEach(f -> assertTrue(!f.get("status").asText().equals("refused"), f.toString()));

            // && tar -xzf ollama-patched.tgz -C /out ; COPY --from=patch /out/ /usr/
            ReleaseArchives.extract(patched, usr);
            Fixtures.Run run = Fixtures.run("x86_64", usr.resolve("bin/ollama"),
                    Map.of("FIXTURE_GPU_UUIDS", ReleaseArchives.STUB_UUID));
            assertTrue(run.stdout().contains("discovery: nvml=ok driver=n/a devices=1"), run.toString());
        } finally {
            ReleaseArchives.delete(work);
        }
    }
}
