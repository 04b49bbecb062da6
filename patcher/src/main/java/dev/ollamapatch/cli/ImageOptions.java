package dev.ollamapatch.cli;

import picocli.CommandLine.Option;

/** Options for container images (docker save tarballs, OCI image layouts). */
final class ImageOptions {
    @Option(names = "--platform", paramLabel = "OS/ARCH[/VARIANT]",
            description = "in a multi-platform image, patch only this platform's image (e.g. linux/amd64); "
                    + "the others are copied as they are")
    String platform;
}
