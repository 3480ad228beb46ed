namespace EdgeImage.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_unpublished_write_that_fails_leaves_nothing_and_keeps_the_old_file()
    {
        var image = _dir.File("edge.img");
        File.WriteAllText(image, "old image");

        await Assert.ThrowsAsync<InvalidOperationException>(() => AtomicFile.WriteUnpublishedAsync(image, async stream =>
        {
            await stream.WriteAsync("half"u8.ToArray());
            throw new InvalidOperationException("disk full");
        }));

        Assert.Equal("old image", File.ReadAllText(image));
        Assert.Equal(["edge.img"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Files_published_together_appear_together()
    {
        var (image, manifest) = (_dir.File("edge.img"), _dir.File("manifest.json"));
        File.WriteAllText(image, "old image");
        File.WriteAllText(manifest, "old manifest");
        var newImage = await AtomicFile.WriteUnpublishedAsync(image, s => s.WriteAsync("new image"u8.ToArray()).AsTask());
        var newManifest = await AtomicFile.WriteUnpublishedAsync(manifest, s => s.WriteAsync("new manifest"u8.ToArray()).AsTask());

        // Until published, the old pair stands.
        Assert.Equal("old image", File.ReadAllText(image));
        AtomicFile.PublishTogether([(newImage, image), (newManifest, manifest)]);

        Assert.Equal("new image", File.ReadAllText(image));
        Assert.Equal("new manifest", File.ReadAllText(manifest));
        Assert.Equal(["edge.img", "manifest.json"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_interrupted_publish_never_leaves_the_new_image_beside_the_old_manifest()
    {
        var (image, manifest) = (_dir.File("edge.img"), _dir.File("manifest.json"));
        File.WriteAllText(image, "old image");
        File.WriteAllText(manifest, "old manifest");
        var newImage = await AtomicFile.WriteUnpublishedAsync(image, s => s.WriteAsync("new image"u8.ToArray()).AsTask());
        var newManifest = await AtomicFile.WriteUnpublishedAsync(manifest, s => s.WriteAsync("new manifest"u8.ToArray()).AsTask());
        // The manifest's rename fails (its temporary file vanished): the publish stops after the image.
        File.Delete(newManifest);

        Assert.Throws<FileNotFoundException>(() => AtomicFile.PublishTogether([(newImage, image), (newManifest, manifest)]));

        Assert.Equal("new image", File.ReadAllText(image));
        Assert.False(File.Exists(manifest), "the old manifest still describes the new image");
    }
}
