package dev.ollamapatch.install;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Shims are shared: two targets patched in one directory load the same {@code nvml.so}. Who uses a
 * shim is read from the manifests themselves (no counter that a crash could leave wrong): every
 * manifest in the shim's directory ({@code *.ollama-patch.json}) and every directory manifest
 * ({@code .ollama-patch.json}) above it that records that shim.
 */
final class ShimRefs {
    private ShimRefs() {}

    /** The other manifests that record {@code shim}, each with its entry for it. */
    static Map<Path, Manifest.ShimEntry> others(Path shim, Path ownManifest) {
        Map<Path, Manifest.ShimEntry> out = new LinkedHashMap<>();
        Path dir = shim.getParent();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                if (p.getFileName().toString().endsWith(InstallLayout.MANIFEST_SUFFIX)) consider(p, shim, ownManifest, out);
            }
        } catch (IOException e) {
            // An unreadable directory records nothing we could honour.
        }
        for (Path d = dir.getParent(); d != null; d = d.getParent()) {
            consider(d.resolve(InstallLayout.MANIFEST_SUFFIX), shim, ownManifest, out);
        }
        return out;
    }

    private static void consider(Path manifest, Path shim, Path own, Map<Path, Manifest.ShimEntry> out) {
        if (manifest.equals(own) || !Files.isRegularFile(manifest, LinkOption.NOFOLLOW_LINKS)) return;
        Path dir = manifest.getParent();
        String name = manifest.getFileName().toString();
        boolean directory = name.equals(InstallLayout.MANIFEST_SUFFIX);
        Path target = directory ? dir : dir.resolve(name.substring(0, name.length() - InstallLayout.MANIFEST_SUFFIX.length()));
        try {
            Manifest m = Manifest.read(manifest);
            InstallLayout layout = new InstallLayout(target, directory, List.of(), manifest, null);
            for (ManifestPaths.Shim s : ManifestPaths.resolve(layout, m).shims()) {
                if (s.path().equals(shim)) out.put(manifest, s.entry());
            }
        } catch (IOException | RuntimeException e) {
            // Not a manifest this tool can trust: it claims nothing.
        }
    }
}
