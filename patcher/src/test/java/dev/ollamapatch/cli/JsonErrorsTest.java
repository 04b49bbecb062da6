package dev.ollamapatch.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ollamapatch.patch.Cli;
import dev.ollamapatch.patch.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With {@code --json}, every error is one JSON document on stdout and its one-line message on
 * stderr: also the usage errors found while the command line itself is read.
 */
class JsonErrorsTest {
    @TempDir
    Path tmp;

    /** One JSON document {error, exit_code} on stdout, the same message as the one line on stderr. */
    private static JsonNode assertJsonError(Cli.Result r, int exit, String inMessage) throws Exception {
        assertEquals(exit, r.exit(), r.toString());
        assertEquals(1, r.out().strip().lines().count(), "one line of JSON: " + r);
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertEquals(exit, doc.get("exit_code").asInt(), r.toString());
        String message = doc.get("error").asText();
        assertTrue(message.contains(inMessage), r.toString());
        assertEquals("ollama-patch: " + message, r.err().strip(), "the same one line on stderr: " + r);
        return doc;
    }

    @Test
    void anUnknownOptionGivesAJsonDocument() throws Exception {
        assertJsonError(Cli.run("apply", "--json", tmp, "--no-such-option"), 2, "--no-such-option");
        // --json after the word that failed counts as well.
        assertJsonError(Cli.run("scan", "--bogus", tmp, "--json"), 2, "--bogus");
    }

    @Test
    void aMissingArgumentGivesAJsonDocument() throws Exception {
        assertJsonError(Cli.run("apply", tmp, "--json", "-o"), 2, "-o");
        assertJsonError(Cli.run("verify", "--json"), 2, "TARGET");
        assertJsonError(Cli.run("inspect", "--json"), 2, "FILE");
    }

    @Test
    void aBadValueGivesAJsonDocument() throws Exception {
        assertJsonError(Cli.run("doctor", "--json", "--run-timeout", "soon"), 2, "soon");
    }

    @Test
    void aMissingFileGivesAJsonDocument() throws Exception {
        assertJsonError(Cli.run("inspect", "--json", tmp.resolve("missing")), 2, "no such file");
        assertJsonError(Cli.run("verify", "--json", tmp.resolve("missing")), 2, "no such file");
    }

    @Test
    void aFailureAfterParsingStillGivesOneDocument() throws Exception {
        // exit 3 with no file report (an Ollama without NVML): still one JSON document.
        Cli.Result r = Cli.run("apply", "--json", "--dry-run", Fixtures.binary("x86_64", "release", "gen-none"));
        assertEquals(3, r.exit(), r.toString());
        assertEquals(1, r.out().strip().lines().count(), r.toString());
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertEquals(3, doc.get("exit_code").asInt(), r.toString());
        assertTrue(doc.get("error").asText().contains("does not use NVML"), r.toString());
    }

    @Test
    void withoutJsonAUsageErrorPrintsNothingOnStdoutAndSaysHowToGetHelp() {
        Cli.Result r = Cli.run("apply", tmp, "--no-such-option");
        assertEquals(2, r.exit());
        assertEquals("", r.out());
        assertTrue(r.err().contains("try 'ollama-patch apply --help'"), r.err());
    }

    @Test
    void wordsAfterTheEndOfOptionsAreNotAJsonRequest() {
        Cli.Result r = Cli.run("scan", "--bogus", "--", "--json");
        assertEquals(2, r.exit(), r.toString());
        assertEquals("", r.out());
    }

    @Test
    void aControlCharacterInAnUnknownOptionStaysOnOneLine() throws Exception {
        assertJsonError(Cli.run("apply", "--json", "--bad\nname", tmp), 2, "--bad");
    }

    @Test
    void jsonIsNotTakenForAnOtherOptionsValue() {
        assertFalse(Main.jsonAsked(new String[] {"apply", "x", "--", "--json"}));
        assertTrue(Main.jsonAsked(new String[] {"apply", "--json=true", "x"}));
    }
}
