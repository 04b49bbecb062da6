package dev.ollamapatch.resolve;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * What a site's resolution means for the patch (DESIGN.md 4a, last point): the path written into the
 * site and the files the shim must be installed as, or a refusal that says which path would fit.
 * Pure.
 *
 * @param path     the path written into the site (right-aligned, '/'-padded by the replacement rule), or null when refused
 * @param shims    every file the shim must exist as for the loader to find it
 * @param refusal  why the site cannot be retargeted safely, or null
 */
public record ShimPlacement(String path, List<Path> shims, String refusal) {
    public static final String ORIGIN_PATH = "$ORIGIN/nvml.so";

    public ShimPlacement {
        shims = List.copyOf(shims);
    }

    public boolean refused() {
        return refusal != null;
    }

    /**
     * @param resolution     where the loader looks for this site
     * @param siteLength     bytes available in the site (an absolute path must fit it; a {@code $ORIGIN} path is
     *                       checked by the planner)
     * @param originPath     the {@code $ORIGIN} path to write when the resolution names directories ({@code $ORIGIN/nvml.so})
     * @param absolutePath   an absolute path chosen by the user ({@code --shim-path}), or null
     * @param defaultDir     the directory the patched file is installed in: the fallback absolute path is
     *                       {@code defaultDir/<name of originPath>}, a file the tool creates
     */
    public static ShimPlacement decide(Resolution resolution, int siteLength, String originPath, String absolutePath,
                                       Path defaultDir) {
        if (absolutePath != null) {
            if (bytes(absolutePath) > siteLength) {
                return refuse(siteLength, String.format("--shim-path \"%s\" is %d bytes", absolutePath, bytes(absolutePath)));
            }
            return new ShimPlacement(absolutePath, List.of(Path.of(absolutePath)), null);
        }
        String name = originPath.substring(originPath.lastIndexOf('/') + 1);
        if (resolution.originWorks()) {
            // Whether it fits is the planner's check, with its own message (the longest path that fits).
            // $ORIGIN/sub/nvml.so is sub/nvml.so below each directory, not nvml.so in it.
            String rest = originPath.substring(originPath.indexOf('/') + 1);
            return new ShimPlacement(originPath, resolution.directories().stream().map(d -> d.resolve(rest).normalize())
                    .toList(), null);
        }
        Path fallback = defaultDir.toAbsolutePath().normalize().resolve(name);
        if (bytes(fallback.toString()) <= siteLength) {
            return new ShimPlacement(fallback.toString(), List.of(fallback), null);
        }
        return refuse(siteLength, String.format("$ORIGIN cannot be used (%s), and the absolute path \"%s\" is %d bytes",
                resolution.blocker() != null ? resolution.blocker() : resolution.detail(), fallback,
                bytes(fallback.toString())));
    }

    private static ShimPlacement refuse(int siteLength, String why) {
        return new ShimPlacement(null, List.of(), String.format(
                "%s; the site holds %d bytes: give --shim-path with an absolute path of at most %d bytes",
                why, siteLength, siteLength));
    }

    private static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
