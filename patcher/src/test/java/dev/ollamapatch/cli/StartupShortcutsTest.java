package dev.ollamapatch.cli;

import dev.ollamapatch.patch.Cli;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What start-up skips (issue 21) changes nothing a user sees: {@code --version} alone prints exactly
 * what picocli prints, and a run that names a subcommand gets the same command as with the full model.
 */
class StartupShortcutsTest {
    @Test
    void theShortcutPrintsWhatPicocliPrints() throws Exception {
        Cli.Result picocli = Cli.run("--version");            // through the command-line model
        assertEquals(0, picocli.exit(), picocli.toString());
        assertTrue(picocli.out().startsWith("ollama-patch "), picocli.toString());
        for (String flag : new String[] {"--version", "-V"}) {
            Cli.Result shortcut = Cli.runProcess(flag);         // main(): the shortcut
            assertEquals(0, shortcut.exit(), shortcut.toString());
            assertEquals(picocli.out(), shortcut.out(), flag);
            assertEquals("", shortcut.err(), flag);
        }
    }

    @Test
    void versionWithAnythingElseIsStillParsedByPicocli() throws Exception {
        for (String[] args : new String[][] {{"--version", "--no-such-option"}, {"-V", "scan"}, {"--debug", "--version"}}) {
            Cli.Result picocli = Cli.run((Object[]) args);
            Cli.Result process = Cli.runProcess((Object[]) args);
            assertEquals(picocli.toString(), process.toString(), String.join(" ", args));
        }
    }

    @Test
    void aSubcommandAloneHasTheSameModelAsInTheFullCommandLine() {
        Map<String, CommandLine> full = new CommandLine(new Main()).getSubcommands();
        for (Map.Entry<String, CommandLine> e : full.entrySet()) {
            Map<String, CommandLine> lazy = Main.commandLine(e.getKey(), "--help").getSubcommands();
            assertEquals(java.util.Set.of(e.getKey()), lazy.keySet(), "only the subcommand named is built");
            assertEquals(e.getValue().getUsageMessage(), lazy.get(e.getKey()).getUsageMessage(), e.getKey());
            assertEquals(e.getValue().getCommandSpec().qualifiedName(), lazy.get(e.getKey()).getCommandSpec().qualifiedName());
        }
        assertEquals(full.keySet(), Main.commandLine("--help").getSubcommands().keySet(), "no subcommand named: all of them");
        assertEquals(full.keySet(), Main.commandLine("aply").getSubcommands().keySet(), "a typo gets the full model");
    }
}
