package dev.ollamapatch.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options for release archives ({@code .tgz}, {@code .tar.gz}, {@code .tar}, {@code .tar.zst}). */
final class ArchiveOptions {
    /** Where Ollama's install script puts releases. */
    static final String DEFAULT_PREFIX = "/usr/local";

    @Option(names = "--prefix", paramLabel = "DIR", defaultValue = DEFAULT_PREFIX,
            description = "where the archive will be extracted (glob sites need the absolute directory); "
                    + "default: ${DEFAULT-VALUE}, where Ollama's install script puts releases")
    String prefix;

    @Option(names = "--checksums", paramLabel = "FILE",
            description = "refuse unless TARGET matches its line in this sha256sum-format file")
    Path checksums;
}
